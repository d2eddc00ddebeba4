"""The file formats /export writes (JSON lines, CSV, Parquet): each turns batches of bars into bytes as they come."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Final, Literal, get_args

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

ExportFormat = Literal["jsonl", "csv", "parquet"]
FORMATS: Final[tuple[ExportFormat, ...]] = get_args(ExportFormat)
MEDIA_TYPES: Final[dict[ExportFormat, str]] = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv",  # Litestar adds "; charset=utf-8" to text types
    "parquet": "application/vnd.apache.parquet",
}
# What an Accept header may name for each format, besides the media types above.
_ACCEPTED: Final[dict[str, ExportFormat]] = {
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/json-lines": "jsonl",
    "text/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/parquet": "parquet",
}
COLUMNS: Final = ("ticker", "ts", "o", "h", "l", "c", "v", "source")
# Rows per Parquet row group: large enough for columnar compression, small enough that the
# buffered group stays a few MB.
ROW_GROUP_ROWS: Final = 100_000
PARQUET_SCHEMA: Final = pa.schema(
    [
        pa.field("ticker", pa.string(), nullable=False),
        pa.field("ts", pa.int64(), nullable=False),
        *(pa.field(name, pa.float64(), nullable=False) for name in ("o", "h", "l", "c")),
        pa.field("v", pa.int64()),
        pa.field("source", pa.string()),
    ]
)

Row = Sequence[object]


class ExportBar(msgspec.Struct):
    """One exported bar: a /candles bar with its ticker.  v is a whole number of shares."""

    ticker: str
    ts: int
    o: float
    h: float
    l: float  # noqa: E741  # the old contract's field name
    c: float
    v: int | None
    source: str | None


def negotiate(accept: str | None) -> ExportFormat:
    """The format an Accept header asks for: the first listed that we write; JSON lines otherwise."""
    for part in (accept or "").split(","):
        found = _ACCEPTED.get(part.split(";")[0].strip().lower())
        if found is not None:
            return found
    return "jsonl"


async def jsonl(batches: AsyncIterator[Sequence[Row]]) -> AsyncIterator[bytes]:
    encoder = msgspec.json.Encoder()
    async for rows in batches:
        yield encoder.encode_lines([ExportBar(*row) for row in rows])  # type: ignore[arg-type]


def _csv_chunk(rows: Iterable[Row]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


async def csv_text(batches: AsyncIterator[Sequence[Row]]) -> AsyncIterator[bytes]:
    yield _csv_chunk([COLUMNS])
    async for rows in batches:
        yield _csv_chunk(rows)


class _Chunks:
    """A write-only file for ParquetWriter whose bytes are taken away as soon as they are written."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def _batch(rows: Sequence[Row]) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in COLUMNS]
    return pa.RecordBatch.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, PARQUET_SCHEMA, strict=True)], schema=PARQUET_SCHEMA
    )


async def parquet(batches: AsyncIterator[Sequence[Row]]) -> AsyncIterator[bytes]:
    sink = _Chunks()
    writer = pq.ParquetWriter(sink, PARQUET_SCHEMA, compression="zstd")
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    async for rows in batches:
        pending.append(_batch(rows))
        pending_rows += len(rows)
        if pending_rows >= ROW_GROUP_ROWS:
            writer.write_table(pa.Table.from_batches(pending), row_group_size=ROW_GROUP_ROWS)
            pending, pending_rows = [], 0
            yield sink.take()
    if pending:
        writer.write_table(pa.Table.from_batches(pending), row_group_size=ROW_GROUP_ROWS)
    writer.close()
    yield sink.take()


WRITERS: Final = {"jsonl": jsonl, "csv": csv_text, "parquet": parquet}
