"""Question-answer drafts from the indexed chunks: the served model reads a chunk and writes a question
it answers, with the answer. Used before users arrive — SFT bootstrap rows (``ragloop data synth``), eval
sets to check (``ragloop eval build``), pairs to fine-tune the embedder (``ragloop train embedder``)."""
