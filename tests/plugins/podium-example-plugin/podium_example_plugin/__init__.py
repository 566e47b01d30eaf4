"""An example podium plugin, made only of what podium publishes for plugins.

- ``counter``, a source type (entry point ``podium.sources``): a connection of
  ``type: counter`` yields ``rows`` generated records in one stream, incrementally.
- ``word_count``, a task kind (entry point ``podium.kinds``): ``word_count: notes.txt``
  counts the words of a file in the project.
"""
