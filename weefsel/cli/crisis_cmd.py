"""CLI of crisis mode: ``weefsel crisis keygen|demo|assign|lists|verify|declare|end|purge|prepare``.

The register's key comes from WEEFSEL_CRISIS_KEY or WEEFSEL_CRISIS_KEY_FILE, never from
the database. Commands print counts and ids, never names, addresses or needs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from weefsel.config import DEFAULT_WAREHOUSE

crisis_app = typer.Typer(help="Crisis mode: opt-in buurtnetwerk, toewijzing, bellijsten, "
                              "paraatheid per buurt (issue 15).", no_args_is_help=True)
DEFAULT_STORE = Path(os.environ.get("WEEFSEL_CRISIS_DB", "crisis.sqlite"))
STORE_OPT = typer.Option(DEFAULT_STORE, "--store", help="the crisis register (SQLite)")


def _store(path: Path):
    from weefsel.crisis.store import CrisisStore
    return CrisisStore(path)


def _me(store, user: str):
    return store.principal(user)


@crisis_app.command("keygen")
def keygen(path: Path = typer.Argument(..., help="key file to create (outside the database)")):
    """Create a new encryption key file (mode 0600); point WEEFSEL_CRISIS_KEY_FILE at it."""
    from weefsel.crisis.store import new_key_file
    p = new_key_file(path)
    typer.echo(f"sleutel geschreven: {p} (bewaar hem buiten de database; zonder sleutel zijn "
               f"de gegevens onleesbaar)")


@crisis_app.command("demo")
def demo(store: Path = STORE_OPT,
         warehouse: Path = typer.Option(DEFAULT_WAREHOUSE, "--warehouse",
                                        help="warehouse (.duckdb) or a buurt GeoJSON"),
         gemeente: str = typer.Option("GM0034", help="GM code (Almere GM0034, Amsterdam GM0363)"),
         prefix: str = typer.Option(None, help="buurt code prefix, e.g. BU0363N (Amsterdam-Noord)"),
         buurten: int = 3, residents: int = 12, helpers: int = 10):
    """Register synthetic (clearly marked) residents and helpers in real buurten."""
    from weefsel.crisis.demo import seed
    s = _store(store)
    typer.echo(json.dumps(seed(s, warehouse, gemeente=gemeente, buurten=buurten,
                               residents=residents, helpers=helpers, prefix=prefix)))


@crisis_app.command("assign")
def assign_cmd(store: Path = STORE_OPT, k: int = typer.Option(2, "--k"),
               walk_range: float = typer.Option(800.0, "--range", help="walking range, metres"),
               user: str = typer.Option("cli", "--user")):
    """(Re-)assign k helpers per resident, keeping existing pairs where possible."""
    s = _store(store)
    out = s.assign(user, k=k, walk_range_m=walk_range)
    typer.echo(json.dumps(out))


@crisis_app.command("lists")
def lists_cmd(out: Path = typer.Option(Path("bellijsten"), "--out"), store: Path = STORE_OPT,
              pdf: bool = typer.Option(True, "--pdf/--no-pdf"),
              user: str = typer.Option("cli", "--user"),
              warehouse: Path = typer.Option(None, "--warehouse", help="also one list per "
                                             "noodsteunpunt candidate from its facilities")):
    """Print lists per buurt (HTML + PDF) with a SHA-256 checksum on each page."""
    from weefsel.crisis.lists import produce, produce_per_noodsteunpunt
    s = _store(store)
    made = produce(s, out, actor=user, pdf=pdf)
    if warehouse:
        made += produce_per_noodsteunpunt(s, warehouse, out, actor=user, pdf=pdf)
    for m in made:
        typer.echo(f"{m['scope']}: {m['rows']} adressen, controlegetal {m['checksum']} "
                   f"-> {', '.join(m['files'])}")


@crisis_app.command("verify")
def verify_cmd(path: Path, checksum: str = typer.Option(None, "--checksum",
               help="the number printed on the paper (default: the one in the file)"),
               store: Path = typer.Option(None, "--store", help="also check it was produced here")):
    """Check a list: do its rows still hash to the printed checksum? Exit 1 when not."""
    from weefsel.crisis.lists import verify_file
    ok, digest = verify_file(path, checksum)
    if ok and store is not None:
        s = _store(store)
        ok = s.conn.execute("SELECT 1 FROM crisis_lists WHERE checksum=?", (digest,)).fetchone() \
            is not None
        if not ok:
            typer.echo("lijst klopt in zichzelf maar is niet door dit register gemaakt")
    typer.echo(("OK: " if ok else "AFWIJKING: ") + f"{path} controlegetal {digest}")
    raise typer.Exit(0 if ok else 1)


@crisis_app.command("declare")
def declare_cmd(reason: str, store: Path = STORE_OPT, user: str = typer.Option(..., "--user")):
    """Declare a crisis: needs open to the coordinator only, every view audited."""
    s = _store(store)
    typer.echo(f"crisis {s.declare(_me(s, user), reason)} afgekondigd")


@crisis_app.command("end")
def end_cmd(store: Path = STORE_OPT, user: str = typer.Option(..., "--user")):
    """End the crisis: every need is erased, with proof in the audit log."""
    s = _store(store)
    out = s.end(_me(s, user))
    typer.echo(f"crisis {out['crisis']} beëindigd; behoeften gewist van {len(out['deleted'])} bewoners")


@crisis_app.command("grant")
def grant_cmd(user: str, role: str, store: Path = STORE_OPT,
              admin: str = typer.Option(..., "--admin")):
    """Give a user a crisis role (coordinator). Stand-in until the registry's roles land."""
    from weefsel.crisis.store import Principal
    s = _store(store)
    s.grant(Principal(admin, "admin"), user, role)
    typer.echo(f"{user}: {role}")


@crisis_app.command("purge")
def purge_cmd(store: Path = STORE_OPT):
    """Delete everyone past the retention date (run daily, e.g. from cron)."""
    ids = _store(store).purge()
    typer.echo(f"{len(ids)} aanmeldingen verwijderd na de bewaartermijn")


@crisis_app.command("prepare")
def prepare_cmd(warehouse: Path = typer.Option(DEFAULT_WAREHOUSE, "--warehouse"),
                gemeente: str = typer.Option(None, help="only this GM code"),
                walk_range: float = typer.Option(800.0, "--range"),
                out: Path = typer.Option(None, "--out", help=".csv or .geojson export"),
                shapes: Path = typer.Option(None, "--shapes", help="buurt GeoJSON when the "
                                            "warehouse holds no buurt polygons")):
    """Preparedness per buurt for the five crisis functions; writes crisis_preparedness."""
    from weefsel.crisis.prepare import export, preparedness, write_table
    t = preparedness(warehouse, gemeente=gemeente, walk_range_m=walk_range, shapes=shapes)
    write_table(warehouse, t)
    gaps = t[~t.has_carrier]
    typer.echo(f"{t.buurt_code.nunique()} buurten, {len(gaps)} functies zonder drager; "
               f"tabel crisis_preparedness in {warehouse}")
    for f, n in gaps.function.value_counts().items():
        typer.echo(f"  {f}: {n} buurten zonder drager")
    if out:
        typer.echo(f"export: {export(t, warehouse, out, shapes)}")


def register(app: typer.Typer) -> None:
    app.add_typer(crisis_app, name="crisis")
