"""The ground floor: what every stage may import — the one settings object, the error base, AWS
clients, the adapter manifest (the data contract between training, eval and serving), plots and SQLite
helpers. Nothing here imports a stage (rag, feedback, training, eval, serving) or the front door
(ragloop), so arrows only point down to it."""
