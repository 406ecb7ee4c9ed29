"""The judge room: every AI score in the product — the app's background feedback, ``ragloop feedback
score``, ``ragloop judge``, the eval gate and the RLAIF rewards — comes from one ``judge.core.Judge``
built by ``judge.factory.build_judge``. ``judge.facts`` checks numbers, units, yes/no, polarity, names
and qualifiers on top of any backend; ``benchmarks.judge`` measures the choices."""
