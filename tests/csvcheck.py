#!/usr/bin/env python3
"""csvcheck.py - independent checks of gb-export output for the bats tests.

Uses only the Python standard library (csv is NOT used: its reader cannot
tell an unquoted empty field (NULL) from a quoted one ("" = empty string),
so this file has its own small, strict parser of the export dialect).

    csvcheck.py rows CSV                 number of data records
    csvcheck.py header CSV               header fields, one per line
    csvcheck.py col CSV COLUMN...        the named columns, tab-joined, one
                                         record per line (NULL printed as \\N)
    csvcheck.py sum CSV COLUMN           sum of an integer column
    csvcheck.py load CSV DB TABLE        create TABLE in DB from the header and
                                         insert the records (NULL or text)
    csvcheck.py compare DB TABLE CSV [--where SQL]
                                         the CSV equals the table (the rows
                                         matching SQL), value by value, in key
                                         order, with the spec's exact rendering
    csvcheck.py fname NAME               the file name the spec gives a table
    csvcheck.py mfesc NAME               NAME escaped as MANIFEST writes it
    csvcheck.py verify DIR [DB]          an export set: MANIFEST structure,
                                         every table's file name, bytes,
                                         sha256, rows, money sums against its
                                         CSV; with DB also every CSV against DB

Exit status 0 when everything checks, 1 with the differences on stderr,
2 for a malformed CSV or manifest (also on stderr).
"""

import hashlib
import math
import os
import re
import sqlite3
import sys
import urllib.parse


class Bad(Exception):
    pass


# ---------------------------------------------------------------- CSV parser

class Q(bytes):
    """A field that was quoted in the CSV."""


FIELD = re.compile(rb'"((?:[^"]|"")*)"|([^,"\r\n]*)')


def parse_csv(data):
    """Parse the export dialect strictly.

    Returns a list of records; a record is a list of fields: None (NULL:
    unquoted and empty), bytes (unquoted) or Q (quoted).
    Records end in LF (also the last one); a field is either unquoted
    (no '"', CR or LF inside) or quoted with doubled quotes inside."""
    def bad(i, why):
        raise Bad("line %d: %s" % (data.count(b"\n", 0, i) + 1, why))

    if len(data) == 0:
        raise Bad("empty file: no header row")
    recs = []
    n = len(data)
    i = 0
    match = FIELD.match
    while i < n:
        j = data.find(b"\n", i)
        if j < 0:
            bad(i, "last record does not end in LF")
        line = data[i:j]
        if b'"' not in line:
            # Fast path: a record without quotes is one line.
            if b"\r" in line:
                bad(i, "CR in an unquoted field (CRLF record end?)")
            rec = line.split(b",")
            if b"" in rec:
                rec = [f if f else None for f in rec]
            recs.append(rec)
            i = j + 1
            continue
        rec = []
        while True:
            m = match(data, i)
            if m.group(1) is not None:
                rec.append(Q(m.group(1).replace(b'""', b'"')))
            else:
                rec.append(m.group(2) or None)
            i = m.end()
            c = data[i:i + 1]
            if c == b",":
                i += 1
                continue
            if c == b"\n":
                i += 1
                break
            if c == b"":
                bad(i, "last record does not end in LF")
            if c == b"\r":
                bad(i, "CR in an unquoted field (CRLF record end?)")
            if m.group(1) is None:
                if data[m.start():m.start() + 1] == b'"':
                    bad(i, "unterminated quoted field")
                bad(i, "quote inside an unquoted field")
            bad(i, "garbage %r after a quoted field" % c)
        recs.append(rec)
    width = len(recs[0])
    for r, rec in enumerate(recs):
        if len(rec) != width:
            raise Bad("record %d has %d fields, header has %d"
                      % (r, len(rec), width))
    return recs


def read_csv(path):
    with open(path, "rb") as f:
        return parse_csv(f.read())


def value(field):
    """None for NULL (unquoted empty), else the bytes."""
    return field


def pair(field):
    """(quoted, bytes) of a parsed field."""
    return (isinstance(field, Q), b"" if field is None else bytes(field))


def header_names(recs):
    names = []
    for f in recs[0]:
        v = value(f)
        if v is None:
            raise Bad("NULL in the header row")
        names.append(v.decode("utf-8", "surrogateescape"))
    return names


# ---------------------------------------------------- expected rendering

def needs_quote(b):
    return (b == b"" or b"," in b or b'"' in b or b"\r" in b or b"\n" in b
            or b[:1] == b" " or b[-1:] == b" ")


def fmt_real(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    for p in (15, 16, 17):
        s = "%.*g" % (p, v)
        if float(s) == v:
            return s
    raise AssertionError(v)


def render(typ, v):
    """The (quoted, bytes) field the spec prescribes for a SQLite value."""
    if typ == "null":
        return (False, b"")
    if typ == "integer":
        return (False, str(v).encode())
    if typ == "real":
        return (False, fmt_real(v).encode())
    if typ == "blob":
        return (False, b"\\x" + bytes(v).hex().encode())
    if typ == "text":
        b = bytes(v)
        return (needs_quote(b), b)
    raise AssertionError(typ)


def render_name(name):
    b = name.encode("utf-8", "surrogateescape")
    return (needs_quote(b), b)


def same_value(typ, v, field):
    """Semantic comparison, ignoring the exact rendering."""
    got = value(field)
    if typ == "null":
        return got is None
    if got is None:
        return False
    if typ == "integer":
        return re.fullmatch(rb"-?[0-9]+", got) is not None and int(got) == v
    if typ == "real":
        try:
            g = float({b"Infinity": b"inf", b"-Infinity": b"-inf",
                       b"NaN": b"nan"}.get(got, got))
        except ValueError:
            return False
        return g == v or (math.isnan(g) and math.isnan(v))
    if typ == "blob":
        return got == b"\\x" + bytes(v).hex().encode()
    return got == bytes(v)


def qi(name):
    return '"' + name.replace('"', '""') + '"'


def fname(name):
    out = []
    for i, c in enumerate(name.encode("utf-8", "surrogateescape")):
        ch = chr(c)
        if (ch.isascii() and (ch.isalnum() or ch in "_-")) or \
                (ch == "." and i > 0):
            out.append(ch)
        else:
            out.append("%%%02X" % c)
    return "".join(out) + ".csv"


def mfesc(s):
    return (s.replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\n", "\\n").replace("\r", "\\r"))


def mfunesc(s):
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            d = s[i + 1]
            # \t \n \r \\ (the spec); \s (a trailing space) and \- (a
            # real "-", since a bare "-" means absent) are gb-export's
            # additions, see lib/manifest.c.
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\",
                        "s": " ", "-": "-"}.get(d, "\\" + d))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


# ----------------------------------------------------------- SQLite side

def connect(db):
    con = sqlite3.connect("file:%s?mode=ro"
                          % urllib.parse.quote(os.path.abspath(db)), uri=True)
    con.text_factory = bytes
    return con


def table_info(con, table):
    cols = con.execute("PRAGMA table_info(%s)" % qi(table)).fetchall()
    if not cols:
        raise Bad("no table %r in the database" % table)
    names = [c[1].decode("utf-8", "surrogateescape")
             if isinstance(c[1], bytes) else c[1] for c in cols]
    pk = sorted((c[5], names[i]) for i, c in enumerate(cols) if c[5] > 0)
    return names, [p[1] for p in pk]


def source_rows(con, table, where=None, params=()):
    names, pk = table_info(con, table)
    sel = ", ".join("typeof(%s), %s" % (qi(c), qi(c)) for c in names)
    order = ", ".join(qi(c) for c in pk) if pk else "rowid"
    sql = "SELECT %s FROM %s" % (sel, qi(table))
    if where:
        sql += " WHERE " + where
    sql += " ORDER BY " + order
    rows = []
    for r in con.execute(sql, params):
        rows.append([(r[2 * i].decode() if isinstance(r[2 * i], bytes)
                      else r[2 * i], r[2 * i + 1]) for i in range(len(names))])
    return names, pk, rows


def compare(con, table, path, where=None, params=(), label=None):
    """List of differences between the table and the CSV file."""
    label = label or path
    errs = []
    try:
        recs = read_csv(path)
    except (Bad, OSError) as e:
        return ["%s: malformed CSV: %s" % (label, e)]
    names, pk, rows = source_rows(con, table, where, params)
    want_header = [render_name(n) for n in names]
    got_header = [pair(f) for f in recs[0]]
    if got_header != want_header:
        errs.append("%s: header is %r, want %r" % (label, got_header,
                                                  want_header))
        return errs
    data = recs[1:]
    if len(data) != len(rows):
        errs.append("%s: %d data records, the table has %d rows%s"
                    % (label, len(data), len(rows),
                       " (WHERE %s %r)" % (where, params) if where else ""))
    # Semantic comparison as multisets first, to tell order from content.
    for r, (src, rec) in enumerate(zip(rows, data)):
        for c, ((typ, v), f) in enumerate(zip(src, rec)):
            want = render(typ, v)
            field = pair(f)
            if field == want:
                continue
            if same_value(typ, v, f):
                errs.append("%s: record %d column %s: rendering %r, spec "
                            "wants %r (%s value %r)"
                            % (label, r + 1, names[c], field, want, typ, v))
            else:
                errs.append("%s: record %d column %s: got %r, source has "
                            "%s %r (expected field %r)"
                            % (label, r + 1, names[c], field, typ, v, want))
            if len(errs) > 20:
                errs.append("... (more differences left out)")
                return errs
    if errs:
        want_set = sorted(repr([render(t, v) for t, v in s]) for s in rows)
        got_set = sorted(repr([pair(f) for f in rec]) for rec in data)
        if want_set == got_set:
            errs.insert(0, "%s: same records, but not in key order (%s)"
                        % (label, ", ".join(pk) or "rowid"))
    return errs


# ------------------------------------------------------------- MANIFEST

HEAD = ["format", "creator", "site", "job", "level", "id", "base", "source",
        "snapshot", "tables"]


TABLE_FIELDS = ("table", "rows", "bytes", "sha256", "key", "watermark",
                "money")


def parse_manifest(path):
    """Parse MANIFEST strictly: the known header fields in the spec's order,
    table blocks, 'end' last.  Unknown fields are allowed (the spec: readers
    ignore them) and kept in m["unknown"]."""
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.endswith(b"\n"):
        raise Bad("MANIFEST does not end in a newline")
    lines = [l.decode("utf-8", "surrogateescape").split("\t")
             for l in raw[:-1].split(b"\n")]
    m = {"tables": [], "head": {}, "unknown": []}
    nhead = 0
    cur = None
    for i, f in enumerate(lines):
        if m.get("end"):
            raise Bad("MANIFEST: line %d after 'end'" % (i + 1))
        if f[0] in HEAD:
            if m["tables"]:
                raise Bad("MANIFEST line %d: %r after the table blocks"
                          % (i + 1, f[0]))
            if nhead >= len(HEAD) or f[0] != HEAD[nhead]:
                raise Bad("MANIFEST line %d: %r out of order (want %r)"
                          % (i + 1, f[0], HEAD[nhead:nhead + 1]))
            m["head"][f[0]] = f[1:]
            nhead += 1
        elif f[0] == "end":
            if len(f) != 1:
                raise Bad("MANIFEST line %d: 'end' with values" % (i + 1))
            m["end"] = True
        elif f[0] == "table":
            if nhead != len(HEAD):
                raise Bad("MANIFEST line %d: table before the header "
                          "fields %r" % (i + 1, HEAD[nhead:]))
            if len(f) != 3:
                raise Bad("MANIFEST line %d: table line %r" % (i + 1, f))
            cur = {"name": mfunesc(f[1]), "file": mfunesc(f[2]),
                   "money": [], "raw": f[1]}
            m["tables"].append(cur)
        elif f[0] in TABLE_FIELDS:
            if cur is None or len(f) < 2 or mfunesc(f[1]) != cur["name"]:
                raise Bad("MANIFEST line %d: %r outside its table block"
                          % (i + 1, f))
            if f[0] in ("rows", "bytes", "sha256", "key") and len(f) == 3:
                if f[0] in cur:
                    raise Bad("MANIFEST line %d: second %s line"
                              % (i + 1, f[0]))
                cur[f[0]] = mfunesc(f[2])
            elif f[0] == "key" and len(f) == 2:
                cur["key"] = ""
            elif f[0] == "watermark" and len(f) == 6:
                cur["watermark"] = [mfunesc(x) for x in f[2:]]
            elif f[0] == "money" and len(f) == 4:
                cur["money"].append((mfunesc(f[2]), f[3]))
            else:
                raise Bad("MANIFEST line %d: malformed %r" % (i + 1, f))
        else:
            m["unknown"].append(f)
    if nhead != len(HEAD):
        raise Bad("MANIFEST lacks header fields %r" % HEAD[nhead:])
    if not m.get("end"):
        raise Bad("MANIFEST has no 'end' line")
    return m


def typed(wtype, s):
    if wtype == "integer":
        return int(s)
    if wtype == "real":
        return float(s)
    return s


def verify(d, db=None):
    errs = []
    mpath = os.path.join(d, "MANIFEST")
    m = parse_manifest(mpath)
    h = m["head"]
    if len(h["tables"]) != 1 or int(h["tables"][0]) != len(m["tables"]):
        errs.append("tables line %r but %d table blocks"
                    % (h["tables"], len(m["tables"])))
    if h["level"] not in (["full"], ["incremental"]):
        errs.append("level %r" % h["level"])
    if not re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", h["id"][0]):
        errs.append("id %r" % h["id"])
    snap = h["snapshot"][0]
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", snap):
        errs.append("snapshot %r" % snap)
    elif h["id"][0][:16] != re.sub(r"[-:]", "", snap):
        errs.append("id %r does not start with the snapshot time %r"
                    % (h["id"][0], snap))
    incremental = h["level"] == ["incremental"]
    if (h["base"] == ["-"]) == incremental:
        errs.append("level %r with base %r" % (h["level"], h["base"]))
    want_files = {"MANIFEST", "SCHEMA.sql"}
    for f in m["unknown"]:
        # Not in the spec; when a "schema FILE BYTES SHA256" line is there,
        # it must describe SCHEMA.sql truly.
        if f[0] == "schema" and len(f) == 4:
            p = os.path.join(d, f[1])
            if not os.path.isfile(p):
                errs.append("schema line names missing file %r" % f[1])
                continue
            with open(p, "rb") as sf:
                data = sf.read()
            if str(len(data)) != f[2] or \
                    hashlib.sha256(data).hexdigest() != f[3]:
                errs.append("schema line %r does not match %s" % (f, f[1]))
    con = connect(db) if db else None
    for t in m["tables"]:
        name = t["name"]
        path = os.path.join(d, t["file"])
        if t["file"] != fname(name):
            errs.append("table %r: file %r, spec's encoding gives %r"
                        % (name, t["file"], fname(name)))
        want_files.add(t["file"])
        for f in ("rows", "bytes", "sha256", "key"):
            if f not in t:
                errs.append("table %r: no %s line" % (name, f))
        if not os.path.isfile(path):
            errs.append("table %r: no file %r" % (name, t["file"]))
            continue
        with open(path, "rb") as f:
            data = f.read()
        if str(len(data)) != t.get("bytes"):
            errs.append("table %r: bytes %r, file has %d"
                        % (name, t.get("bytes"), len(data)))
        if hashlib.sha256(data).hexdigest() != t.get("sha256"):
            errs.append("table %r: sha256 differs from the file's" % name)
        try:
            recs = parse_csv(data)
        except Bad as e:
            errs.append("table %r: malformed CSV: %s" % (name, e))
            continue
        if str(len(recs) - 1) != t.get("rows"):
            errs.append("table %r: rows %r, CSV has %d records"
                        % (name, t.get("rows"), len(recs) - 1))
        cols = header_names(recs)
        for col, s in t["money"]:
            if col not in cols:
                errs.append("table %r: money column %r not in the CSV"
                            % (name, col))
                continue
            k = cols.index(col)
            tot = sum(int(value(r[k])) for r in recs[1:]
                      if value(r[k]) is not None)
            if str(tot) != s:
                errs.append("table %r: money %s sum %s, CSV sums to %d"
                            % (name, col, s, tot))
        extra = {f[0]: f[2:] for f in m["unknown"]
                 if len(f) > 1 and mfunesc(f[1]) == name}
        dl = extra.get("deletes")
        dkeys = []
        if dl:
            want_files.add(mfunesc(dl[0]))
            with open(os.path.join(d, mfunesc(dl[0])), "rb") as f:
                ddata = f.read()
            if str(len(ddata)) != dl[2] or \
                    hashlib.sha256(ddata).hexdigest() != dl[3]:
                errs.append("table %r: deletes file differs from its line"
                            % name)
            drecs = parse_csv(ddata)
            if str(len(drecs) - 1) != dl[1]:
                errs.append("table %r: %s deletes, file has %d"
                            % (name, dl[1], len(drecs) - 1))
            dkeys = [value(r[0]) for r in drecs[1:]]
        if con is None:
            continue
        where, params = None, ()
        wm = t.get("watermark")
        if "change" in extra and extra["change"] == ["delta"]:
            # an exact incremental: its rows are the source's of those
            # keys, its deleted keys are gone, its totals the table's
            key = t.get("key")
            ks = [value(r[cols.index(key)]) for r in recs[1:]]
            where = "%s IN (%s)" % (qi(key), ",".join("?" * len(ks)))
            params = tuple(int(k) if re.fullmatch(rb"-?\d+", k) else bytes(k).decode("utf-8", "surrogateescape")
                           for k in ks)
            for k in dkeys:
                kv = int(k) if re.fullmatch(rb"-?\d+", k) else bytes(k).decode("utf-8", "surrogateescape")
                if con.execute("SELECT count(*) FROM %s WHERE %s = ?"
                               % (qi(name), qi(key)), (kv,)).fetchone()[0]:
                    errs.append("table %r: deleted key %r is there"
                                % (name, k))
            n = con.execute("SELECT count(*) FROM %s" % qi(name)).fetchone()[0]
            if extra.get("total", ["-"])[0] != str(n):
                errs.append("table %r: total %r, the table has %d rows"
                            % (name, extra.get("total"), n))
            wm = None
        elif "change" in extra:
            wm = None
        elif wm and wm[2] != "-":
            where, params = "%s > ?" % qi(wm[0]), (typed(wm[1], wm[2]),)
        errs += compare(con, name, path, where, params,
                        label="table %r" % name)
        for col, s in t["money"]:
            sql = "SELECT coalesce(sum(%s), 0) FROM %s" % (qi(col), qi(name))
            if where:
                sql += " WHERE " + where
            got = con.execute(sql, params).fetchone()[0]
            if str(got) != s:
                errs.append("table %r: money %s sum %s, database has %s"
                            % (name, col, s, got))
        if wm:
            top = con.execute("SELECT max(%s) FROM %s" % (qi(wm[0]), qi(name))
                              ).fetchone()[0]
            if isinstance(top, bytes):
                top = top.decode("utf-8", "surrogateescape")
            want = "-" if top is None else (
                fmt_real(top) if isinstance(top, float) else str(top))
            if wm[3] != want:
                errs.append("table %r: watermark to %r, database max %r"
                            % (name, wm[3], want))
    have = set(os.listdir(d))
    if have != want_files:
        errs.append("directory holds %r, manifest describes %r"
                    % (sorted(have), sorted(want_files)))
    return errs


# ------------------------------------------------------------------ main

def out(s):
    sys.stdout.buffer.write(s.encode("utf-8", "surrogateescape") + b"\n")


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    cmd, args = argv[1], argv[2:]
    try:
        if cmd == "rows":
            out(str(len(read_csv(args[0])) - 1))
        elif cmd == "header":
            for n in header_names(read_csv(args[0])):
                out(n)
        elif cmd == "col":
            recs = read_csv(args[0])
            names = header_names(recs)
            idx = []
            for c in args[1:]:
                if c not in names:
                    raise Bad("no column %r in %s" % (c, args[0]))
                idx.append(names.index(c))
            for r in recs[1:]:
                vals = [value(r[k]) for k in idx]
                out("\t".join("\\N" if v is None else
                              v.decode("utf-8", "surrogateescape")
                              for v in vals))
        elif cmd == "sum":
            recs = read_csv(args[0])
            k = header_names(recs).index(args[1])
            out(str(sum(int(value(r[k])) for r in recs[1:]
                        if value(r[k]) is not None)))
        elif cmd == "load":
            recs = read_csv(args[0])
            names = header_names(recs)
            con = sqlite3.connect(args[1])
            con.execute("CREATE TABLE %s (%s)" % (
                qi(args[2]), ", ".join(qi(n) for n in names)))
            con.executemany("INSERT INTO %s VALUES (%s)" % (
                qi(args[2]), ", ".join("?" * len(names))),
                ([None if value(f) is None else
                  value(f).decode("utf-8", "surrogateescape")
                  for f in r] for r in recs[1:]))
            con.commit()
            con.close()
        elif cmd == "compare":
            where = None
            if len(args) == 5 and args[3] == "--where":
                where = args[4]
            elif len(args) != 3:
                raise Bad("usage: compare DB TABLE CSV [--where SQL]")
            errs = compare(connect(args[0]), args[1], args[2], where)
            if errs:
                sys.stderr.write("\n".join(errs) + "\n")
                return 1
        elif cmd == "fname":
            out(fname(args[0]))
        elif cmd == "mfesc":
            out(mfesc(args[0]))
        elif cmd == "verify":
            errs = verify(args[0], args[1] if len(args) > 1 else None)
            if errs:
                sys.stderr.write("\n".join(errs) + "\n")
                return 1
        else:
            sys.stderr.write("csvcheck.py: unknown command %r\n" % cmd)
            return 2
    except Bad as e:
        sys.stderr.write("csvcheck.py: %s\n" % e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
