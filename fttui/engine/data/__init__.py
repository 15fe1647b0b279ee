"""Data: files read row by row into Arrow, rendered with the chat template, tokenized and masked, packed.

``dataset.prepare_data`` is the entry; ``preview`` shows the same rows without model weights.
"""
