"""Getting data in: sources that read pages, the loader that lands them in a warehouse.

sources/          Source implementations (rest, files; commerce connectors later)
http.py           the one HTTP client every source uses (retries, rate limits, masking)
pagination.py     Link header, next URL/cursor in the body, next token, offset/has-more
source.py         the Source protocol, Stream and the pages a source yields
normalize/        flattening pages into typed tables (DuckDB in memory)
destinations/     Destination protocol; DuckDB and PostgreSQL
load.py           one load: pages → staged tables → one warehouse transaction
"""
