"""CLI of crisis mode: ``weefsel crisis keygen|demo|assign|lists|verify|grant|declare|end|purge|prepare``.

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


REGISTRY_OPT = typer.Option(None, "--registry", help="the registry's SQLAlchemy URL (accounts, "
                            "crisis roles, audit; default WEEFSEL_REGISTRY or its SQLite file)")


def _ops(url: str | None):
    from weefsel.registry.ops import OpsStore
    return OpsStore(url)


def _store(path: Path, url: str | None = None):
    """The register; its audit goes to the registry's log (and its own hash chain)."""
    from weefsel.crisis.web import open_store
    return open_store(path, _ops(url))


def _login(ops, username: str):
    """A registry account (password from WEEFSEL_PASSWORD or asked) as a crisis Principal."""
    from weefsel.crisis.roles import principal_for
    from weefsel.crisis.web import crisis_gemeente
    pw = os.environ.get("WEEFSEL_PASSWORD") or typer.prompt("Wachtwoord", hide_input=True)
    token, _ = ops.login(username, pw)
    user = ops.session_user(token)
    ops.logout(token)
    return principal_for(ops, user, crisis_gemeente()), user


@crisis_app.command("keygen")
def keygen(path: Path = typer.Argument(..., help="key file to create (outside the database)")):
    """Create a new encryption key file (mode 0600); point WEEFSEL_CRISIS_KEY_FILE at it."""
    from weefsel.crisis.store import new_key_file
    p = new_key_file(path)
    typer.echo(f"sleutel geschreven: {p} (bewaar hem buiten de database; zonder sleutel zijn "
               f"de gegevens onleesbaar)")


@crisis_app.command("demo")
def demo(store: Path = STORE_OPT, registry: str = REGISTRY_OPT,
         warehouse: Path = typer.Option(DEFAULT_WAREHOUSE, "--warehouse",
                                        help="warehouse (.duckdb) or a buurt GeoJSON"),
         gemeente: str = typer.Option("GM0034", help="GM code (Almere GM0034, Amsterdam GM0363)"),
         prefix: str = typer.Option(None, help="buurt code prefix, e.g. BU0363N (Amsterdam-Noord)"),
         buurten: int = 3, residents: int = 12, helpers: int = 10):
    """Register synthetic (clearly marked) residents and helpers in real buurten."""
    from weefsel.crisis.demo import seed
    s = _store(store, registry)
    typer.echo(json.dumps(seed(s, warehouse, gemeente=gemeente, buurten=buurten,
                               residents=residents, helpers=helpers, prefix=prefix)))


@crisis_app.command("assign")
def assign_cmd(store: Path = STORE_OPT, k: int = typer.Option(2, "--k"),
               walk_range: float = typer.Option(800.0, "--range", help="walking range, metres"),
               user: str = typer.Option("cli", "--user", help="label in the audit (the operator)"),
               registry: str = REGISTRY_OPT):
    """(Re-)assign k helpers per resident, keeping existing pairs where possible."""
    s = _store(store, registry)
    out = s.assign(user, k=k, walk_range_m=walk_range)
    typer.echo(json.dumps(out))


@crisis_app.command("lists")
def lists_cmd(out: Path = typer.Option(Path("bellijsten"), "--out"), store: Path = STORE_OPT,
              pdf: bool = typer.Option(True, "--pdf/--no-pdf"),
              user: str = typer.Option("cli", "--user", help="label in the audit (the operator)"),
              registry: str = REGISTRY_OPT,
              warehouse: Path = typer.Option(None, "--warehouse", help="also one list per "
                                             "noodsteunpunt candidate from its facilities")):
    """Print lists per buurt (HTML + PDF) with a SHA-256 checksum on each page."""
    from weefsel.crisis.lists import produce, produce_per_noodsteunpunt
    s = _store(store, registry)
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
        from weefsel.crisis.store import CrisisStore
        s = CrisisStore(store)
        ok = s.conn.execute("SELECT 1 FROM crisis_lists WHERE checksum=?", (digest,)).fetchone() \
            is not None
        if not ok:
            typer.echo("lijst klopt in zichzelf maar is niet door dit register gemaakt")
    typer.echo(("OK: " if ok else "AFWIJKING: ") + f"{path} controlegetal {digest}")
    raise typer.Exit(0 if ok else 1)


AS_OPT = typer.Option(..., "--as", help="your registry account (password: WEEFSEL_PASSWORD or asked)")


@crisis_app.command("declare")
def declare_cmd(reason: str, store: Path = STORE_OPT, username: str = AS_OPT,
                registry: str = REGISTRY_OPT):
    """Declare a crisis (coordinator): needs open to coordinators only, every view audited."""
    ops = _ops(registry)
    who, _ = _login(ops, username)
    s = _store(store, registry)
    typer.echo(f"crisis {s.declare(who, reason)} afgekondigd")


@crisis_app.command("end")
def end_cmd(store: Path = STORE_OPT, username: str = AS_OPT, registry: str = REGISTRY_OPT):
    """End the crisis (coordinator): every need is erased, with proof in the audit log."""
    ops = _ops(registry)
    who, _ = _login(ops, username)
    out = _store(store, registry).end(who)
    typer.echo(f"crisis {out['crisis']} beëindigd; behoeften gewist van {len(out['deleted'])} bewoners")


@crisis_app.command("grant")
def grant_cmd(user: str = typer.Argument(..., help="registry account of your gemeente"),
              role: str = typer.Argument(..., help="coordinator, registrar, or 'none' to revoke"),
              username: str = AS_OPT, registry: str = REGISTRY_OPT):
    """A registry admin gives an account of the same gemeente a crisis role (audited)."""
    from weefsel.crisis.roles import grant, revoke
    ops = _ops(registry)
    _, admin = _login(ops, username)
    if role == "none":
        revoke(ops, admin, user)
    else:
        grant(ops, admin, user, role)
    typer.echo(f"{user}: {role}")


@crisis_app.command("purge")
def purge_cmd(store: Path = STORE_OPT, registry: str = REGISTRY_OPT):
    """Delete everyone past the retention date (run daily, e.g. from cron)."""
    ids = _store(store, registry).purge()
    typer.echo(f"{len(ids)} aanmeldingen verwijderd na de bewaartermijn")


@crisis_app.command("prepare")
def prepare_cmd(warehouse: Path = typer.Option(DEFAULT_WAREHOUSE, "--warehouse"),
                gemeente: str = typer.Option(None, help="only this GM code"),
                walk_range: float = typer.Option(800.0, "--range"),
                out: Path = typer.Option(None, "--out", help=".csv or .geojson export"),
                shapes: Path = typer.Option(None, "--shapes", help="buurt GeoJSON when the "
                                            "warehouse holds no buurt polygons"),
                registry: str = typer.Option(None, "--registry", help="registry URL: its "
                                             "initiatives (crisis functions) and meeting places "
                                             "count as carriers (default WEEFSEL_REGISTRY if set)")):
    """Preparedness per buurt for the five crisis functions; writes crisis_preparedness and
    crisis_buurt (the map layer "Crisisfuncties zonder drager")."""
    from weefsel.crisis.prepare import export, preparedness, registry_carriers, write_table
    url = registry or os.environ.get("WEEFSEL_REGISTRY")
    carriers = registry_carriers(_ops(url), gemeente) if url else None
    if carriers is not None:
        typer.echo(f"{len(carriers)} initiatieven en ontmoetingsplekken uit het register")
    t = preparedness(warehouse, gemeente=gemeente, walk_range_m=walk_range, shapes=shapes,
                     registry_carriers=carriers)
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
