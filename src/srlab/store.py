"""SQLite store: runs, samples, generations and verdicts, keyed by content hashes.

Every write happens in one transaction per batch, so a process killed with ``kill -9`` leaves
either the whole batch or none of it; rerunning skips what is stored and never duplicates a row.
A failed generation (``Generation.error`` set) is stored too, and a later success replaces it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srlab.errors import SrlabError
from srlab.hashing import canonical_json, content_hash
from srlab.schema import Generation, GenerationRequest, Sample, Verdict

RUN_ITEMS_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    run_id TEXT NOT NULL, benchmark TEXT NOT NULL, sample_id TEXT NOT NULL, sample_key TEXT NOT NULL,
    variant TEXT NOT NULL, strategy TEXT NOT NULL, attack TEXT NOT NULL, generation_key TEXT NOT NULL,
    sample_index INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, benchmark, sample_id, variant, strategy, attack, sample_index)
);
"""
SCHEMA = RUN_ITEMS_TABLE.format(name="run_items") + """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, created REAL NOT NULL, status TEXT NOT NULL,
    config TEXT NOT NULL, provenance TEXT NOT NULL, result TEXT
);
CREATE TABLE IF NOT EXISTS samples (
    key TEXT PRIMARY KEY, benchmark TEXT NOT NULL, sample_id TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS generations (
    key TEXT PRIMARY KEY, model TEXT NOT NULL, request TEXT NOT NULL, text TEXT NOT NULL,
    answer TEXT NOT NULL, reasoning TEXT, prompt_tokens INTEGER, completion_tokens INTEGER,
    truncated INTEGER NOT NULL, finish_reason TEXT, created REAL NOT NULL, error TEXT,
    reasoning_tokens INTEGER
);
CREATE TABLE IF NOT EXISTS verdicts (
    generation_key TEXT NOT NULL, sample_key TEXT NOT NULL, judge TEXT NOT NULL,
    judge_version TEXT NOT NULL, target TEXT NOT NULL, label INTEGER, score REAL, reason TEXT,
    details TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (generation_key, sample_key, judge, judge_version, target)
);
CREATE TABLE IF NOT EXISTS cache (
    namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (namespace, key)
);
"""


class StoreError(SrlabError):
    """A store file that cannot be opened or written; names the file and what to do."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"store {path}: {message}")


def _explain(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return f"{text}; the file or its folder is not writable (pass --store with a writable path)"
    if "not a database" in text:
        return f"{text}; this file is not an SQLite store (pass --store with an srlab store)"
    if "unable to open" in text:
        return f"{text}; check that the path is a file in a folder you can write"
    return text


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


RUN_ITEM_COLUMNS = (
    "run_id, benchmark, sample_id, sample_key, variant, strategy, attack, generation_key, sample_index"
)


# Generation columns added after the first release, in the order they were added.
ADDED_GENERATION_COLUMNS = (("error", "TEXT"), ("reasoning_tokens", "INTEGER"))


def _migrate(conn: sqlite3.Connection) -> None:
    """Add columns newer versions need to a store an older version created."""
    for column, kind in ADDED_GENERATION_COLUMNS:
        if column not in _columns(conn, "generations"):
            with conn:
                conn.execute(f"ALTER TABLE generations ADD COLUMN {column} {kind}")
    if "sample_index" not in _columns(conn, "run_items"):
        _add_sample_index(conn)


def _add_sample_index(conn: sqlite3.Connection) -> None:
    """Give run items a sample index (decoding.n samples of a prompt are n items).

    The index joins the primary key, which ALTER TABLE cannot change: the items are copied into a
    new table, each as sample 0, in one transaction under a write lock (so two processes opening
    an old store do not both migrate it).
    """
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        if "sample_index" in _columns(conn, "run_items"):
            return  # another process migrated it while this one waited for the lock
        old_columns = RUN_ITEM_COLUMNS.removesuffix(", sample_index")
        conn.execute(RUN_ITEMS_TABLE.format(name="run_items_migrated"))
        conn.execute(f"INSERT INTO run_items_migrated ({RUN_ITEM_COLUMNS}) SELECT {old_columns}, 0 FROM run_items")
        conn.execute("DROP TABLE run_items")
        conn.execute("ALTER TABLE run_items_migrated RENAME TO run_items")


def sample_key(sample: Sample) -> str:
    return content_hash(sample.to_dict())


def generation_key(model_identity: dict[str, Any], request: GenerationRequest) -> str:
    """The cache key of a generation: same model, decoding and prompt -> same key."""
    return content_hash({"model": model_identity, **request_body(request)}, length=24)


def request_body(request: GenerationRequest) -> dict[str, Any]:
    """What a request is, as stored with its generation and hashed into its key: the messages,
    the decoding and, only when set, its think budget (``key_extras()`` is empty for a plain
    request, so its key is what it was before think budgets existed)."""
    return {"messages": request.messages, "decoding": request.decoding.model_dump(), **request.key_extras()}


@dataclass(frozen=True)
class RunItem:
    run_id: str
    benchmark: str
    sample_id: str
    sample_key: str
    variant: str
    strategy: str
    attack: str
    generation_key: str
    sample_index: int = 0  # which of the prompt's n samples (decoding.n); 0 when there is one


class Store:
    """A thin, typed layer over one SQLite file (``":memory:"`` works for tests).

    ``read_only`` opens an existing store without writing to it (no WAL switch, no schema), so a
    report can be built from a store on read-only media. Any problem opening the file (a folder,
    not SQLite, not writable) is a ``StoreError`` naming the path.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        try:
            self.conn = self._open_read_only() if read_only else self._open()
        except sqlite3.Error as exc:
            raise StoreError(self.path, _explain(exc)) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename and exc.filename != self.path else ""
            raise StoreError(self.path, f"{where}{exc.strerror or exc}") from None

    def _open(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            where = Path(self.path)
            if where.is_dir():
                raise StoreError(self.path, "is a directory; pass a file path such as .srlab/store.sqlite")
            for folder in where.parents:
                if folder.exists():
                    if not folder.is_dir():
                        raise StoreError(self.path, f"{folder} is a file, not a folder")
                    break
            where.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=60)
        try:
            conn.row_factory = sqlite3.Row
            if self.path != ":memory:":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            _migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_read_only(self) -> sqlite3.Connection:
        where = Path(self.path)
        if not where.is_file():
            raise StoreError(self.path, "is a directory" if where.is_dir() else "not found")
        uri = where.resolve().as_uri()
        errors: list[sqlite3.Error] = []
        # mode=ro still needs the WAL's -shm file writable; immutable=1 is for read-only media.
        for suffix in ("?mode=ro", "?mode=ro&immutable=1"):
            conn = sqlite3.connect(uri + suffix, uri=True, timeout=60)
            try:
                conn.row_factory = sqlite3.Row
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            except sqlite3.Error as exc:
                conn.close()
                errors.append(exc)
                continue
            missing = {"runs", "generations", "run_items"} - tables
            if missing:
                conn.close()
                raise StoreError(self.path, f"not an srlab store (no table {', '.join(sorted(missing))})")
            return conn
        raise errors[-1]

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """One transaction; a store that cannot be written (read-only media, full disk) is a StoreError."""
        try:
            with self.conn:
                yield
        except sqlite3.OperationalError as exc:
            raise StoreError(self.path, _explain(exc)) from None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ---------------------------------------------------------------------------------
    def start_run(self, run_id: str, kind: str, config: dict[str, Any], provenance: dict[str, Any]) -> None:
        """Record a run; restarting the same run id keeps its items and marks it running again."""
        with self._writing():
            self.conn.execute(
                "INSERT INTO runs (id, kind, created, status, config, provenance) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET status='running', provenance=excluded.provenance",
                (run_id, kind, time.time(), "running", canonical_json(config), canonical_json(provenance)),
            )

    def finish_run(self, run_id: str, result: dict[str, Any]) -> None:
        with self._writing():
            self.conn.execute(
                "UPDATE runs SET status='finished', result=? WHERE id=?", (canonical_json(result), run_id)
            )

    def mark_interrupted(self, run_id: str) -> None:
        """A run stopped by the user (Ctrl-C): its report says so until a rerun finishes it."""
        with self._writing():
            self.conn.execute("UPDATE runs SET status='interrupted' WHERE id=? AND status='running'", (run_id,))

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            return None
        out = dict(row)
        for name in ("config", "provenance", "result"):
            out[name] = json.loads(out[name]) if out[name] else None
        return out

    def list_runs(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT id, kind, created, status FROM runs ORDER BY created").fetchall()
        return [dict(r) for r in rows]

    # -- samples ------------------------------------------------------------------------------
    def put_samples(self, samples: Iterable[Sample]) -> None:
        rows = [(sample_key(s), s.benchmark, s.id, canonical_json(s.to_dict())) for s in samples]
        with self._writing():
            self.conn.executemany("INSERT OR IGNORE INTO samples VALUES (?,?,?,?)", rows)

    def get_sample(self, key: str) -> Sample | None:
        row = self.conn.execute("SELECT data FROM samples WHERE key=?", (key,)).fetchone()
        return Sample.from_dict(json.loads(row["data"])) if row else None

    # -- generations --------------------------------------------------------------------------
    def get_generations(self, keys: Sequence[str]) -> dict[str, Generation]:
        found: dict[str, Generation] = {}
        for start in range(0, len(keys), 500):  # stay under SQLite's variable limit
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(f"SELECT * FROM generations WHERE key IN ({marks})", chunk):
                found[row["key"]] = Generation(
                    text=row["text"],
                    answer=row["answer"],
                    reasoning=row["reasoning"],
                    prompt_tokens=row["prompt_tokens"] or 0,
                    completion_tokens=row["completion_tokens"] or 0,
                    truncated=bool(row["truncated"]),
                    finish_reason=row["finish_reason"],
                    error=row["error"] if "error" in row.keys() else None,  # noqa: SIM118 - sqlite3.Row
                    # a store opened read-only may predate trace counts
                    reasoning_tokens=row["reasoning_tokens"] if "reasoning_tokens" in row.keys() else None,  # noqa: SIM118
                )
        return found

    def put_generations(
        self, rows: Sequence[tuple[str, dict[str, Any], GenerationRequest, Generation]]
    ) -> None:
        """Insert ``(key, model_identity, request, generation)`` rows in one transaction.

        A stored success is never overwritten; a stored failure is replaced by whatever comes next
        (a success, or the newer failure with its newer reason).
        """
        now = time.time()
        values = [
            (
                key,
                canonical_json(model),
                canonical_json(request_body(req)),
                gen.text,
                gen.answer,
                gen.reasoning,
                gen.prompt_tokens,
                gen.completion_tokens,
                int(gen.truncated),
                gen.finish_reason,
                now,
                gen.error,
                gen.reasoning_tokens,
            )
            for key, model, req, gen in rows
        ]
        with self._writing():
            self.conn.executemany(
                "INSERT INTO generations (key, model, request, text, answer, reasoning, prompt_tokens, "
                "completion_tokens, truncated, finish_reason, created, error, reasoning_tokens) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(key) DO UPDATE SET text=excluded.text, answer=excluded.answer, "
                "reasoning=excluded.reasoning, prompt_tokens=excluded.prompt_tokens, "
                "completion_tokens=excluded.completion_tokens, truncated=excluded.truncated, "
                "finish_reason=excluded.finish_reason, created=excluded.created, error=excluded.error, "
                "reasoning_tokens=excluded.reasoning_tokens "
                "WHERE generations.error IS NOT NULL",
                values,
            )

    def count(self, table: str) -> int:
        if table not in {"runs", "samples", "generations", "verdicts", "run_items", "cache"}:
            raise ValueError(f"unknown table {table!r}")
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    # -- verdicts -----------------------------------------------------------------------------
    def get_verdicts(
        self, keys: Sequence[tuple[str, str]], judge: str, judge_version: str
    ) -> dict[tuple[str, str, str], Verdict]:
        """Stored verdicts for ``(generation_key, sample_key)`` pairs, keyed by (gen, sample, target)."""
        found: dict[tuple[str, str, str], Verdict] = {}
        wanted = set(keys)
        gen_keys = sorted({g for g, _ in keys})
        for start in range(0, len(gen_keys), 500):
            chunk = gen_keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT * FROM verdicts WHERE judge=? AND judge_version=? AND generation_key IN ({marks})",
                [judge, judge_version, *chunk],
            )
            for row in rows:
                if (row["generation_key"], row["sample_key"]) not in wanted:
                    continue
                label = None if row["label"] is None else bool(row["label"])
                found[(row["generation_key"], row["sample_key"], row["target"])] = Verdict(
                    judge=row["judge"],
                    label=label,
                    reason=row["reason"],
                    score=row["score"],
                    target=row["target"],
                    details=json.loads(row["details"]),
                )
        return found

    def put_verdicts(self, rows: Sequence[tuple[str, str, str, Verdict]]) -> None:
        """Insert ``(generation_key, sample_key, judge_version, verdict)`` rows in one transaction."""
        now = time.time()
        values = [
            (
                gen_key,
                s_key,
                v.judge,
                version,
                v.target,
                None if v.label is None else int(v.label),
                v.score,
                v.reason,
                canonical_json(v.details),
                now,
            )
            for gen_key, s_key, version, v in rows
        ]
        with self._writing():
            self.conn.executemany("INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?,?,?,?,?,?,?)", values)

    # -- run items ----------------------------------------------------------------------------
    def put_run_items(self, items: Sequence[RunItem]) -> None:
        with self._writing():
            self.conn.executemany(
                f"INSERT OR REPLACE INTO run_items ({RUN_ITEM_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (i.run_id, i.benchmark, i.sample_id, i.sample_key, i.variant, i.strategy, i.attack, i.generation_key,
                     i.sample_index)
                    for i in items
                ],
            )

    def run_items(self, run_id: str) -> list[RunItem]:
        rows = self.conn.execute(
            "SELECT * FROM run_items WHERE run_id=? ORDER BY benchmark, variant, strategy, attack, sample_id, "
            # a store opened read-only may predate sample indices
            + ("sample_index" if "sample_index" in _columns(self.conn, "run_items") else "sample_id"),
            (run_id,),
        )
        return [RunItem(**dict(r)) for r in rows]

    # -- generic cache (attacker / judge calls, teacher outputs) -------------------------------
    def cache_get(self, namespace: str, key: str) -> Any | None:
        row = self.conn.execute(
            "SELECT value FROM cache WHERE namespace=? AND key=?", (namespace, key)
        ).fetchone()
        return json.loads(row["value"]) if row else None

    def cache_put(self, namespace: str, key: str, value: Any) -> None:
        with self._writing():
            self.conn.execute(
                "INSERT OR REPLACE INTO cache VALUES (?,?,?,?)",
                (namespace, key, canonical_json(value), time.time()),
            )
