"""Index engines: where chunk rows live and who searches them (`base.py` is the contract, `registry.py`
lists them by `QA_BACKEND` scheme, one module per engine)."""
