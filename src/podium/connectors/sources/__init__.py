"""Source implementations: each turns a connection's settings into a ``Source``.

    rest.py          the generic ``rest`` source: any paged JSON API described in YAML
    rest_config.py   reading a ``rest`` connection's settings, with every problem found
    files.py         the ``files`` source: CSV, JSON lines, JSON and Parquet in a folder
    options.py       the stream options every source shares (primary_key, write_mode, …)

Each source offers ``open_<type>_source``-style construction and ``<type>_problems``.
"""
