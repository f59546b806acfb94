"""A story plan as a book: Markdown, and EPUB 3 for e-readers.

The EPUB is written by hand with zipfile (it is a zip of XHTML files with a manifest): the
`mimetype` entry first and stored uncompressed, a container pointing at the package document, one
XHTML file per chapter and a navigation document, as the EPUB 3 specification asks. Text is
escaped, so whatever the model wrote cannot break the markup.
"""

from __future__ import annotations

import re
import uuid
import zipfile
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from fabula.files import replaced
from fabula.plan.model import Plan


def chapters(plan: Plan) -> list[tuple[str, str]]:
    """(heading, prose) per written chapter, in order."""
    out = []
    for i, scene in enumerate(plan.scenes or ()):
        prose = plan.units.get(i)
        if isinstance(prose, str):
            out.append((f"Chapter {i + 1}: {scene.beat}", prose))
    return out


def to_markdown(plan: Plan) -> str:
    parts = [f"# {plan.title or plan.logline}", "", f"*{plan.logline}*", ""]
    for heading, prose in chapters(plan):
        parts += [f"## {heading}", "", prose.strip(), ""]
    return "\n".join(parts)


def _xhtml(title: str, body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" lang="en">\n'
        f'<head><meta charset="utf-8"/><title>{escape(title)}</title></head>\n<body>\n{body}\n</body>\n</html>\n'
    )


# XML 1.0 allows tab, newline and carriage return, and no other control character: one in a
# chapter made the whole book invalid (epubcheck: a fatal parse error)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def _clean(text: str) -> str:
    return CONTROL.sub("", text)


def _paragraphs(prose: str) -> str:
    blocks = [" ".join(p.split()) for p in _clean(prose).split("\n\n") if p.strip()]
    return "\n".join(f"<p>{escape(p)}</p>" for p in blocks)


def write_epub(plan: Plan, path: Path, author: str = "fabula") -> Path:
    """An EPUB 3 book of the plan's written chapters."""
    _need_chapters(plan, path)
    return write_book_epub(plan.id, plan.title or plan.logline, chapters(plan), path, author, plan.logline)


def _need_chapters(plan: Plan, path: Path) -> None:
    from fabula.errors import InvalidParam

    if not chapters(plan):  # an EPUB needs at least one content document in its spine
        raise InvalidParam(
            "export", str(path), f"plan {plan.id} has no written chapter yet: `fabula plan resume {plan.id}`"
        )


def write_book_epub(
    book_key: str,
    title: str,
    chapter_list: list[tuple[str, str]],
    path: Path,
    author: str = "fabula",
    description: str = "",
) -> Path:
    """An EPUB 3 book of (heading, prose) chapters, written to a temp file and renamed; `book_key` (a
    plan's or manuscript's id) makes its identifier stable across exports."""
    from fabula.errors import InvalidParam

    title = _clean(title)
    book_id = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'fabula:' + book_key)}"
    written = [(_clean(heading), prose) for heading, prose in chapter_list]
    if not written:
        raise InvalidParam("export", str(path), "an EPUB needs at least one chapter with text")
    items = "\n".join(
        f'<item id="c{i}" href="chapter{i}.xhtml" media-type="application/xhtml+xml"/>' for i in range(len(written))
    )
    spine = "\n".join(f'<itemref idref="c{i}"/>' for i in range(len(written)))
    modified = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    opf = f"""<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="bookid">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:identifier id="bookid">{book_id}</dc:identifier>
<dc:title>{escape(title)}</dc:title>
<dc:creator>{escape(author)}</dc:creator>
<dc:language>en</dc:language>
<dc:description>{escape(_clean(description))}</dc:description>
<meta property="dcterms:modified">{modified}</meta>
</metadata>
<manifest>
<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
{items}
</manifest>
<spine>
{spine}
</spine>
</package>
"""
    nav_items = "\n".join(
        f'<li><a href="chapter{i}.xhtml">{escape(heading)}</a></li>' for i, (heading, _) in enumerate(written)
    )
    nav = _xhtml(title, f'<nav epub:type="toc" id="toc"><h1>{escape(title)}</h1><ol>\n{nav_items}\n</ol></nav>')
    container = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
        '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
        "</rootfiles></container>\n"
    )
    with replaced(path) as tmp, zipfile.ZipFile(tmp, "w") as book:
        book.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        book.writestr("META-INF/container.xml", container, compress_type=zipfile.ZIP_DEFLATED)
        book.writestr("OEBPS/content.opf", opf, compress_type=zipfile.ZIP_DEFLATED)
        book.writestr("OEBPS/nav.xhtml", nav, compress_type=zipfile.ZIP_DEFLATED)
        for i, (heading, prose) in enumerate(written):
            body = f"<h2>{escape(heading)}</h2>\n{_paragraphs(prose)}"
            book.writestr(f"OEBPS/chapter{i}.xhtml", _xhtml(heading, body), compress_type=zipfile.ZIP_DEFLATED)
    return path


def write_docx(plan: Plan, path: Path, author: str = "fabula") -> Path:
    """A Word document of the plan's written chapters, its logline as the subtitle."""
    _need_chapters(plan, path)
    return write_book_docx(plan.id, plan.title or plan.logline, plan.logline, chapters(plan), path, author)


def write_book_docx(
    book: str, title: str, subtitle: str, chapter_list: list[tuple[str, str]], path: Path, author: str = "fabula"
) -> Path:
    """A Word document (python-docx) for editors who live in Word: the title in the Title style,
    each chapter under a Heading 1, its paragraphs in Normal; read back before it is kept."""
    import zipfile as _zip
    from xml.etree import ElementTree

    from docx import Document

    from fabula.errors import InvalidParam

    written = [(_clean(heading), _clean(prose)) for heading, prose in chapter_list]
    if not written:
        raise InvalidParam("export", str(path), f"{book}: a Word export needs at least one chapter with text")
    document = Document()
    document.core_properties.title = _clean(title)
    document.core_properties.author = author
    document.add_heading(_clean(title), level=0)
    if subtitle.strip():
        document.add_paragraph(_clean(subtitle), style="Subtitle")
    for heading, prose in written:
        document.add_heading(heading, level=1)
        for block in (" ".join(p.split()) for p in prose.split("\n\n") if p.strip()):
            document.add_paragraph(block)
    with replaced(path) as tmp:
        document.save(str(tmp))
        with _zip.ZipFile(tmp) as package:  # read back: one Heading 1 per chapter
            body = ElementTree.fromstring(package.read("word/document.xml"))
        w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
        styles = [s.get(f"{w}val") for s in body.iter(f"{w}pStyle")]
        if styles.count("Heading1") != len(written):
            raise ValueError(f"the Word document holds {styles.count('Heading1')} chapters, not {len(written)}")
    return path
