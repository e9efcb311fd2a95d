"""The streamed XLSX opens in a spreadsheet reader with every value, type and oddity intact."""

from __future__ import annotations

import zipfile
from pathlib import Path

from openpyxl import load_workbook

from bot.reports.xlsx_stream import XlsxStreamWriter, column_letter


def test_values_types_and_awkward_text_survive(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    with XlsxStreamWriter(path, "answers", ["id", "text", "score", "empty"]) as sheet:
        sheet.write_row([1, "  leading & <b>tags</b>\nsecond line ", 0.25, None])
        sheet.write_row([2, "control\x00chars\x1bgone", -1, None])
        sheet.write_row([3, "¡Señora Muñoz! 😀", float("nan"), "x"])
    book = load_workbook(path)
    rows = [tuple(row) for row in book["answers"].iter_rows(values_only=True)]
    assert rows == [
        ("id", "text", "score", "empty"),
        (1, "  leading & <b>tags</b>\nsecond line ", 0.25, None),
        (2, "controlcharsgone", -1, None),
        (3, "¡Señora Muñoz! 😀", "nan", "x"),
    ]
    assert book["answers"]["A1"].font.b  # the header is bold
    read_only = load_workbook(path, read_only=True)["answers"]
    assert read_only.max_row == 4 and read_only.max_column == 4


def test_the_file_is_a_valid_zip_with_the_package_parts(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    with XlsxStreamWriter(path, "a" * 40, ["only"]) as sheet:
        for number in range(5000):
            sheet.write_row([number])
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        parts = set(archive.namelist())
        assert {"[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"} <= parts
    book = load_workbook(path, read_only=True)
    assert book.sheetnames == ["a" * 31]  # Excel's limit on sheet names
    assert sum(1 for _ in book.active.iter_rows()) == 5001


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 27, 701, 702)] == ["A", "Z", "AA", "AB", "ZZ", "AAA"]
