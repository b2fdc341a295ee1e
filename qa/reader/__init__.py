"""The learned span reader: network (model.py), inputs (windows.py), reading (read.py), training (train.py)."""
