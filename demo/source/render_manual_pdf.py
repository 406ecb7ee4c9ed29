"""One-off: render source/voltbike-manual.md into corpus/voltbike-manual.pdf, one '## Page:' per PDF page.

Not part of the runtime; needs reportlab (`pip install reportlab`). The PDF is committed.
"""

from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

here = Path(__file__).parent
text = (here / "voltbike-manual.md").read_text()
styles = getSampleStyleSheet()
story = []
title, *sections = text.split("\n## Page: ")
story.append(Paragraph(title.lstrip("# ").strip(), styles["Title"]))
for i, section in enumerate(sections):
    heading, *body = section.strip().split("\n")
    if i:
        story.append(PageBreak())
    story.append(Paragraph(heading, styles["Heading2"]))
    for para in body:
        if para.strip():
            story.append(Paragraph(para.strip(), styles["BodyText"]))
            story.append(Spacer(1, 6))
doc = SimpleDocTemplate(
    str(here.parent / "corpus" / "voltbike-manual.pdf"),
    pagesize=A4,
    title="VoltBike Trail 500 Owner's Manual",
    invariant=1,
)
doc.build(story)
