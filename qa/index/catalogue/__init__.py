"""The index folder's catalogue, the same for every engine: manifest.json (`manifest.py`),
documents.jsonl (`docfile.py`), chunks.jsonl, terms.json, diacritics.json, and how a folder is
staged, written, verified and swapped in (`folder.py`)."""
