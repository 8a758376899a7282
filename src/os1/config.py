"""Settings: defaults, then a config file, then `OS1_*` environment variables, then flags.

Every setting remembers where its value came from, so `os1 config` can show the user
why os1 behaves the way it does.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import time
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "os1"


class ConfigError(Exception):
    """A setting has a value os1 cannot use; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    """The effective settings of one os1 process."""

    data_dir: Path = field(
        default_factory=lambda: Path(platformdirs.user_data_dir(APP_NAME)),
        metadata={"help": "where conversations are stored (SQLite)"},
    )
    cache_dir: Path = field(
        default_factory=lambda: Path(platformdirs.user_cache_dir(APP_NAME)),
        metadata={"help": "where the joined model file is cached"},
    )
    model: str = field(
        default="default",
        metadata={"help": "embedded model: default (Qwen2.5 1.5B), fast (0.5B), or a .gguf path"},
    )
    threads: int = field(
        default=1,
        metadata={"help": "CPU threads the embedded model writes with (1 stays fast on a "
                  "busy machine)"},
    )
    batch_threads: int = field(
        default_factory=lambda: min(2, os.cpu_count() or 1),
        metadata={"help": "CPU threads the embedded model reads the prompt with"},
    )
    context_tokens: int = field(
        default=4096, metadata={"help": "context window of the embedded model"}
    )
    max_reply_tokens: int = field(default=320, metadata={"help": "longest reply, in tokens"})
    temperature: float = field(default=0.6, metadata={"help": "sampling temperature"})
    seed: int = field(
        default=-1, metadata={"help": "sampling seed for repeatable replies; -1 = random"}
    )
    history_turns: int = field(
        default=16,
        metadata={"help": "most past exchanges sent with each turn (the window moves in steps)"},
    )
    # ~4 characters a token in English: 5,000 + 4,000 characters, the ~600-token persona
    # and a 320-token reply fit the default 4,096-token context.
    history_chars: int = field(
        default=5000, metadata={"help": "most characters of past turns sent with each turn"}
    )
    max_input_chars: int = field(
        default=4000, metadata={"help": "longer messages are cut to this length, with a notice"}
    )
    user_name: str = field(
        default="me", metadata={"help": "the local user whose conversations are stored"}
    )
    memory: bool = field(
        default=True,
        metadata={"help": "remember across conversations (off: nothing is stored as memory "
                  "or recalled)"},
    )
    voice: str = field(
        default="joe",
        metadata={"help": "os1's speaking voice: joe (Piper, default), slt (Festival, "
                  "female) or espeak"},
    )
    affect: bool = field(
        default=True,
        metadata={"help": "read the feeling in your messages to answer with care, and keep a "
                  "mood timeline (off: nothing is inferred or stored)"},
    )
    memory_extraction: bool = field(
        default=True,
        metadata={"help": "let the chat model pick out facts from quiet conversations"},
    )
    # A reply that starts while extraction is reading its prompt waits for that read
    # (llama.cpp batches both): a minute of quiet makes that rare.
    memory_idle_s: float = field(
        default=60.0, metadata={"help": "seconds of quiet before facts are extracted"}
    )
    recall_count: int = field(
        default=3, metadata={"help": "most memories recalled into a turn"}
    )
    recall_chars: int = field(
        default=500, metadata={"help": "characters of recalled memories added to a turn"}
    )
    recall_min_similarity: float = field(
        default=0.3,
        metadata={"help": "how related (cosine, 0–1) a memory must be to join a turn"},
    )
    profile_chars: int = field(
        default=300,
        metadata={"help": "characters of the profile (who the user is) opening a conversation"},
    )
    crisis_line: str = field(
        default="US",
        metadata={"help": "where you are, for crisis resources: a country code (US, GB, CA, "
                  "AU, IE, NZ, DE, FR, ES, IN…); unknown codes get an international directory"},
    )
    avoid_topics: str = field(
        default="",
        metadata={"help": "topics os1 never brings up, comma-separated (e.g. \"my ex, "
                  "weight\")"},
    )
    age_group: str = field(
        default="adult",
        metadata={"help": "adult or minor (minor: no romantic or sexual role-play, break "
                  "reminders)"},
    )
    break_reminder_minutes: int = field(
        default=0,
        metadata={"help": "suggest a break after this many minutes of continuous talk; "
                  "0 = never (minors: 45 when left at 0)"},
    )
    checkins: bool = field(
        default=True,
        metadata={"help": "let os1 speak first: follow-ups on what you mentioned, reminders, "
                  "a low stretch, a long silence (off: it never starts a conversation)"},
    )
    quiet_hours: str = field(
        default="22:00-08:00",
        metadata={"help": "local hours when os1 never checks in, HH:MM-HH:MM (\"\" = none)"},
    )
    checkins_per_day: int = field(
        default=2, metadata={"help": "most check-ins os1 starts in one day (0 = none)"}
    )
    encryption: str = field(
        default="off",
        metadata={"help": "encrypt the database at rest: off, passphrase (asked, or "
                  "OS1_PASSPHRASE) or keyring (the OS keyring holds a random key)"},
    )
    database_url: str = field(
        default="",
        metadata={"help": "PostgreSQL to keep everything in, postgresql://user:password@host/db "
                  "(the server, several processes); empty = the SQLite file in data_dir",
                  "secret": True},
    )
    redis_url: str = field(
        default="",
        metadata={"help": "Redis for background jobs (`os1 worker`) and rate limits shared by "
                  "several `os1 serve` processes, redis://host:6379/0; empty = all in this "
                  "process", "secret": True},
    )
    llm_url: str = field(
        default="",
        metadata={"help": "OpenAI-compatible server URL (e.g. http://localhost:8000/v1); "
                  "empty = embedded model"},
    )
    llm_model: str = field(default="", metadata={"help": "model name to ask the server for"})
    llm_api_key: str = field(
        default="", metadata={"help": "API key for the server", "secret": True}
    )
    llm_timeout_s: float = field(
        default=120.0, metadata={"help": "seconds to wait for the model server"}
    )

    @property
    def database_path(self) -> Path:
        return self.data_dir / "os1.sqlite3"

    @property
    def memory_dir(self) -> Path:
        return self.data_dir / "memory"

    @property
    def uses_remote_model(self) -> bool:
        return bool(self.llm_url)

    def with_overrides(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class SettingSource:
    name: str
    value: Any
    source: str  # "default", "config file PATH", "env OS1_X", "command line"
    help: str
    secret: bool


@dataclass(frozen=True)
class ResolvedSettings:
    settings: Settings
    sources: tuple[SettingSource, ...]
    config_file: Path


def default_config_file(env: Mapping[str, str]) -> Path:
    explicit = env.get("OS1_CONFIG_FILE")
    if explicit:
        return Path(explicit).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def _convert(name: str, raw: Any, target: Any, origin: str) -> Any:
    """Turn a raw value (string from env, TOML value) into the field's type."""
    try:
        if target is bool or target == "bool":
            return _boolean(raw)
        if target is Path or target == "Path":
            return Path(str(raw)).expanduser()
        if target is int or target == "int":
            if isinstance(raw, bool):
                raise ValueError
            return int(raw)
        if target is float or target == "float":
            return float(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{origin}: {name} = {raw!r} is not a valid {getattr(target, '__name__', target)}."
        ) from None


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(word)


def set_in_config_file(config_file: Path, name: str, raw: str) -> Any:
    """Check ``raw`` as a value of setting ``name`` and write it to the config file (other
    lines are kept as they are). Returns the value as os1 will use it."""
    known = {f.name: f for f in fields(Settings)}
    if name not in known:
        raise ConfigError(f"There is no setting {name!r}. Known settings: {', '.join(known)}.")
    value = _convert(name, raw, known[name].type, "os1 config set")
    if isinstance(value, bool):
        rendered = "true" if value else "false"
    elif isinstance(value, int | float):
        rendered = repr(value)
    else:
        rendered = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    lines: list[str] = []
    if config_file.exists():
        try:
            lines = config_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"Cannot read the config file {config_file}: {exc.strerror}.") \
                from None
    kept = [line for line in lines if line.split("=", 1)[0].strip() != name]
    kept.append(f"{name} = {rendered}")
    text = "\n".join(kept) + "\n"
    try:
        config_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = config_file.with_suffix(".toml.tmp")
        temporary.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot write the config file {config_file}: {exc.strerror}.") \
            from None
    try:  # the whole file must still load (e.g. max_reply_tokens < context_tokens)
        load_settings(env={"OS1_CONFIG_FILE": str(temporary)})
    except ConfigError as exc:
        temporary.unlink(missing_ok=True)
        raise ConfigError(str(exc).replace(str(temporary), str(config_file))) from None
    temporary.replace(config_file)
    return value


def load_settings(
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ResolvedSettings:
    """Resolve the settings from every source, lowest priority first."""
    env = os.environ if env is None else env
    config_file = default_config_file(env)
    file_values: dict[str, Any] = {}
    if config_file.exists():
        try:
            file_values = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"The config file {config_file} is not valid TOML ({exc}). "
                "Fix it or move it away."
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"Cannot read the config file {config_file}: {exc.strerror}."
            ) from None

    known = {f.name: f for f in fields(Settings)}
    unknown = sorted(set(file_values) - set(known))
    if unknown:
        raise ConfigError(
            f"The config file {config_file} has unknown settings: {', '.join(unknown)}. "
            f"Known settings: {', '.join(known)}."
        )

    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for name, spec in known.items():
        env_name = f"OS1_{name.upper()}"
        if overrides and overrides.get(name) is not None:
            values[name] = _convert(name, overrides[name], spec.type, "command line")
            origins[name] = "command line"
        elif env.get(env_name, "") != "":
            values[name] = _convert(name, env[env_name], spec.type, f"env {env_name}")
            origins[name] = f"env {env_name}"
        elif name in file_values:
            values[name] = _convert(name, file_values[name], spec.type, str(config_file))
            origins[name] = f"config file {config_file}"
        else:
            origins[name] = "default"

    settings = Settings(**values)
    _validate(settings)
    sources = tuple(
        SettingSource(
            name=name,
            value=getattr(settings, name),
            source=origins[name],
            help=str(spec.metadata.get("help", "")),
            secret=bool(spec.metadata.get("secret", False)),
        )
        for name, spec in known.items()
    )
    return ResolvedSettings(settings=settings, sources=sources, config_file=config_file)


def _validate(settings: Settings) -> None:
    positive = ("threads", "batch_threads", "context_tokens", "max_reply_tokens", "history_turns",
                "history_chars", "max_input_chars")
    for name in positive:
        if getattr(settings, name) < 1:
            raise ConfigError(f"{name} must be at least 1 (it is {getattr(settings, name)}).")
    if settings.max_reply_tokens >= settings.context_tokens:
        raise ConfigError("max_reply_tokens must be smaller than context_tokens.")
    if not 0.0 <= settings.temperature <= 2.0:
        raise ConfigError("temperature must be between 0 and 2.")
    if settings.llm_url and not settings.llm_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"llm_url {settings.llm_url!r} must start with http:// or https:// "
            "(for example http://localhost:8000/v1)."
        )
    if not settings.user_name.strip():
        raise ConfigError("user_name must not be empty.")
    if settings.age_group not in ("adult", "minor"):
        raise ConfigError(f"age_group must be adult or minor (it is {settings.age_group!r}).")
    if settings.break_reminder_minutes < 0:
        raise ConfigError("break_reminder_minutes must be 0 (never) or more.")
    if settings.checkins_per_day < 0:
        raise ConfigError("checkins_per_day must be 0 (none) or more.")
    if settings.quiet_hours.strip():
        parse_quiet_hours(settings.quiet_hours)
    if settings.database_url and not settings.database_url.startswith(
            ("postgresql://", "postgres://")):
        raise ConfigError(
            "database_url must start with postgresql:// (for example "
            "postgresql://os1:secret@localhost/os1), or be empty for the SQLite file.")
    if settings.redis_url and not settings.redis_url.startswith(("redis://", "rediss://")):
        raise ConfigError("redis_url must start with redis:// or rediss:// (for example "
                          "redis://localhost:6379/0), or be empty.")
    if settings.encryption not in ("off", "passphrase", "keyring"):
        raise ConfigError(
            f"encryption must be off, passphrase or keyring (it is {settings.encryption!r}).")


_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_quiet_hours(text: str) -> tuple[time, time] | None:
    """``"22:00-08:00"`` → (22:00, 08:00); ``""`` → None (no quiet hours). The span may cross
    midnight; equal ends mean none."""
    if not text.strip():
        return None
    match = _CLOCK.match(text)
    if match is None:
        raise ConfigError(f"quiet_hours {text!r} must look like 22:00-08:00 (local time), or be "
                          "empty for none.")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ConfigError(f"quiet_hours {text!r} has a time that does not exist.")
    return time(h1, m1), time(h2, m2)
