"""Every way the CLI can fail, turned into one line naming what and where (never a traceback).

``weefsel.cli.main`` runs the Typer app without Click's standalone handling and passes
whatever escapes to :func:`one_line`; usage errors get a Dutch line and a pointer to
``--help``. Set ``WEEFSEL_DEBUG=1`` to see the traceback anyway (developers only).
"""

from __future__ import annotations

import errno
import re

from weefsel.errors import WeefselError


def _is(exc: BaseException, name: str) -> bool:
    """Class test by name: Typer vendors its own Click (typer._click), so the exception
    classes differ between versions; their names do not."""
    return any(c.__name__ == name for c in type(exc).__mro__)

#: errno → Dutch reason (the file name is put in front)
OS_REASONS = {
    errno.ENOENT: "bestand of map bestaat niet",
    errno.EACCES: "geen toegang (rechten)",
    errno.EPERM: "geen toegang (rechten)",
    errno.ENOSPC: "schijf vol; het vorige bestand is niet aangeraakt",
    errno.EISDIR: "is een map, geen bestand",
    errno.ENOTDIR: "een deel van het pad is geen map",
    errno.EROFS: "bestandssysteem is alleen-lezen",
    errno.EADDRINUSE: "adres al in gebruik",
    errno.EDQUOT: "schijfquotum vol",
}

#: Click's English phrases → Dutch (the rest of Click's message is names and values)
CLICK_PHRASES = [
    (r"is not a valid integer( range)?\.?", "is geen geheel getal"),
    (r"is not a valid float( range)?\.?", "is geen getal"),
    (r"is not a valid boolean\.?", "is geen ja/nee-waarde"),
    (r"is not one of", "is niet een van"),
    (r"is not in the range", "ligt niet in het bereik"),
    (r"does not exist\.?", "bestaat niet"),
    (r"is a directory\.?", "is een map"),
    (r"is not within the range", "ligt niet in het bereik"),
    (r"Did you mean", "Bedoelt u"),
    (r"Input should be a valid integer.*", "is geen geheel getal"),
    (r"Input should be a valid number.*", "is geen getal"),
    (r"Input should be a valid boolean.*", "is geen ja/nee-waarde"),
    (r"Input should be", "moet zijn:"),
]

MAX_LEN = 300


def _clip(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_LEN else text[:MAX_LEN - 1] + "…"


def _nl(text: str) -> str:
    for pattern, repl in CLICK_PHRASES:
        text = re.sub(pattern, repl, text)
    return text


def _hint(exc) -> str:
    """'--region' / 'CATEGORIES': how the parameter is written (API differs per version)."""
    param, ctx = getattr(exc, "param", None), getattr(exc, "ctx", None)
    if param is None:
        return str(getattr(exc, "param_hint", "") or "")
    for call in (lambda: param.get_error_hint(ctx), lambda: param.get_error_hint()):
        try:
            return str(call()).replace('"', "'")
        except TypeError:
            continue
    opts = getattr(param, "opts", None) or [getattr(param, "name", "?")]
    return " / ".join(opts)


def usage_line(exc) -> str:
    """A Click usage error as one Dutch line with the command to ask for help."""
    ctx = getattr(exc, "ctx", None)
    cmd = ctx.command_path if ctx is not None else "weefsel"
    if _is(exc, "NoSuchOption"):
        msg = f"onbekende optie {exc.option_name}"
        if exc.possibilities:
            msg += f" (bedoelt u {', '.join(sorted(exc.possibilities))}?)"
    elif _is(exc, "MissingParameter"):
        hint = _hint(exc)
        kind = {"argument": "argument", "option": "optie"}.get(
            exc.param_type or getattr(exc.param, "param_type_name", "") or "", "waarde")
        msg = f"{kind} {hint} ontbreekt".replace("  ", " ")
    elif _is(exc, "BadOptionUsage") and "requires an argument" in exc.format_message():
        msg = f"optie {exc.option_name} heeft een waarde nodig"
    elif _is(exc, "BadParameter"):
        hint = _hint(exc)
        msg = f"ongeldige waarde voor {hint}: {_nl(exc.message)}"
    else:
        msg = exc.format_message()
        m = re.match(r"No such command '(.+)'\.?", msg)
        if m:
            msg = f"onbekende opdracht '{m.group(1)}'"
        elif msg.startswith("Got unexpected extra argument"):
            msg = "onverwacht extra argument " + msg.split("argument", 1)[1].lstrip("s ").strip()
        else:
            msg = _nl(msg)
    return _clip(f"{msg} — zie '{cmd} --help'")


def os_line(exc: OSError) -> str:
    """An OSError as 'file: reason'."""
    reason = OS_REASONS.get(exc.errno or -1) or (exc.strerror or str(exc))
    where = exc.filename or ""
    if exc.filename2:
        where = f"{where} → {exc.filename2}"
    return _clip(f"{where}: {reason}" if where else reason)


def duckdb_line(exc: Exception) -> str:
    """A DuckDB error in words a user can act on."""
    text = str(exc)
    low = text.lower()
    path = re.search(r'file "?([^"\s:]+)"?', text)
    where = f"{path.group(1)}: " if path else ""
    if "could not set lock" in low or "conflicting lock" in low:
        return _clip(f"{where}warehouse is in gebruik door een ander proces (bijv. een andere "
                     "'weefsel build'); probeer het opnieuw als dat klaar is")
    if "no space left" in low or "disk is full" in low or "enospc" in low:
        return _clip(f"{where}schijf vol; het vorige warehouse is niet aangeraakt")
    if "cannot open file" in low or "could not open file" in low:
        reason = "bestand of map bestaat niet" if "no such file" in low else (
            "geen toegang (rechten)" if "permission" in low else text.split(":")[-1].strip())
        return _clip(f"{where}kan het bestand niet openen: {reason}")
    if "not a valid duckdb" in low or "unable to open" in low or "magic bytes" in low:
        return _clip(f"{where}geen weefsel-warehouse (geen DuckDB-bestand)")
    if "catalog error" in low and "does not exist" in low:
        m = re.search(r"Table with name (\w+)", text)
        return _clip(f"{where}geen weefsel-warehouse of een oude versie: tabel "
                     f"{m.group(1) if m else '?'} ontbreekt; bouw opnieuw met 'weefsel build'")
    first = text.splitlines()[0] if text else type(exc).__name__
    return _clip(f"databasefout: {first}")


def one_line(exc: BaseException) -> tuple[str, int]:
    """(message, exit code) for anything that escaped a command."""
    if _is(exc, "UsageError"):
        return usage_line(exc), 2
    if isinstance(exc, WeefselError):
        return _clip(str(exc)), 2
    if isinstance(exc, KeyboardInterrupt) or _is(exc, "Abort"):
        return "afgebroken", 130
    if isinstance(exc, MemoryError):
        return "te weinig geheugen voor deze opdracht", 1
    if isinstance(exc, OSError):
        return os_line(exc), 1
    mod = type(exc).__module__ or ""
    if mod.startswith(("duckdb", "_duckdb")):
        return duckdb_line(exc), 1
    if _is(exc, "ClickException"):
        return _clip(_nl(exc.format_message())), exc.exit_code or 1
    first = (str(exc).splitlines() or [""])[0]
    return _clip(f"onverwachte fout ({type(exc).__name__}): {first} — meld dit met de opdracht "
                 "die u gaf (WEEFSEL_DEBUG=1 toont de details)"), 1
