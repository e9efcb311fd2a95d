"""Cost per row of the streamed XLSX writer on rows shaped like an answers export.

python -m bench.bench_xlsx --rows 200000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bot.config import Settings
from bot.reports.exports import ExportRequest, columns
from bot.reports.xlsx_stream import XlsxStreamWriter

# A row as the answers export writes it: a local date-time cell, the touchpoint's name beside its key.
ROW = [
    123456, datetime(2026, 10, 1, 12, 0, 0), "C-12345", "gold", "delivery", "delivery", 98765,
    "experience", 4, "The courier was late but friendly", "en", 0, "positive", 0.734, "joy",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.xlsx"
        started = time.process_time()
        header = columns(ExportRequest("xlsx"), Settings())
        with XlsxStreamWriter(path, "answers", header) as sheet:
            for _ in range(args.rows):
                sheet.write_row(ROW)
        spent = time.process_time() - started
        size = path.stat().st_size
    per_row = spent / args.rows * 1e6
    print(f"{args.rows:,} rows: {spent:.2f} s CPU, {per_row:.1f} µs/row, {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
