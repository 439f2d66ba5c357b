#!/usr/bin/env python3
"""Measures the cost of keying turns by the conversation's text id versus its integer rowid.

Same data both ways: N conversations with public ids like the server's ("c_" + 22 chars),
M turns each, inserted in batches of 512 per transaction (WAL, synchronous=NORMAL so the
figure is about the schema, not the disk), then every conversation's turns read back once.
Prints insert rate, read time and database size for each layout.
Usage: bench/store/key_choice.py [conversations] [turns_per_conversation]
"""
import os
import random
import sqlite3
import string
import sys
import tempfile
import time

LAYOUTS = {
    "text key": """
        CREATE TABLE conversations (public_id TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE TABLE turns (conversation TEXT NOT NULL, seq INTEGER NOT NULL, text TEXT,
                            PRIMARY KEY (conversation, seq)) WITHOUT ROWID;""",
    "integer key": """
        CREATE TABLE conversations (pk INTEGER PRIMARY KEY, public_id TEXT UNIQUE);
        CREATE TABLE turns (conversation INTEGER NOT NULL, seq INTEGER NOT NULL, text TEXT,
                            PRIMARY KEY (conversation, seq)) WITHOUT ROWID;""",
}


def public_id(rng):
    return "c_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(22))


def run(name, schema, ids, turns):
    path = os.path.join(tempfile.mkdtemp(), "keys.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(schema)
    integer = name == "integer key"
    keys = {}
    for i, cid in enumerate(ids, start=1):
        if integer:
            db.execute("INSERT INTO conversations (pk, public_id) VALUES (?, ?)", (i, cid))
            keys[cid] = i
        else:
            db.execute("INSERT INTO conversations (public_id) VALUES (?)", (cid,))
            keys[cid] = cid
    rows = [(keys[cid], seq, "Mein Paket ist noch nicht da, was kann ich tun?")
            for seq in range(1, turns + 1) for cid in ids]
    start = time.perf_counter()
    for at in range(0, len(rows), 512):
        db.execute("BEGIN")
        db.executemany("INSERT INTO turns VALUES (?, ?, ?)", rows[at:at + 512])
        db.execute("COMMIT")
    insert_s = time.perf_counter() - start
    start = time.perf_counter()
    for cid in ids:
        db.execute("SELECT seq, text FROM turns WHERE conversation = ? ORDER BY seq",
                   (keys[cid],)).fetchall()
    read_s = time.perf_counter() - start
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    size = os.path.getsize(path)
    print(f"{name:12s} inserts/s={len(rows) / insert_s:10.0f}  read_all_s={read_s:6.3f}  "
          f"db_bytes={size}")


def main():
    conversations = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    turns = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    rng = random.Random(7)
    ids = [public_id(rng) for _ in range(conversations)]
    for name, schema in LAYOUTS.items():
        run(name, schema, ids, turns)


if __name__ == "__main__":
    main()
