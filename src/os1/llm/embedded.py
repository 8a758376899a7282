"""The embedded model: llama.cpp in this process, through xllamacpp.

xllamacpp runs llama.cpp's own server loop in a background thread. We call it directly
(no HTTP) and bridge its blocking, callback-based streaming into an async iterator.
llama.cpp keeps the last prompt's KV cache per slot, so a prompt that starts with the
same bytes as the previous one only pays for the new tail: see `os1.llm.prompt`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import threading
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from os1.llm.base import (
    ChatMessage,
    GenerationOptions,
    ModelError,
    ModelFileError,
    chat_request,
    delta_text,
    parse_structured,
)
from os1.llm.model_files import check_gguf_file

log = logging.getLogger(__name__)
_END = object()
_CONVERSATION_SLOT = 0
_BACKGROUND_SLOT = 1


class EmbeddedModel:
    """A GGUF model run by llama.cpp in-process. One reply at a time."""

    def __init__(
        self,
        path: Path,
        *,
        threads: int = 1,
        batch_threads: int = 1,
        context_tokens: int = 4096,
        state_dir: Path | None = None,
        session_snapshots: bool = True,
        shared_state_dir: Path | None = None,
    ) -> None:
        import xllamacpp  # imported here: loading the native library takes a moment

        check_gguf_file(path)
        self._path = path
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        # Two slots, each with the whole context window: slot 0 holds the conversation (its
        # KV cache is reused turn after turn), slot 1 does background work (memory
        # extraction) without evicting it. llama.cpp splits n_ctx evenly between slots.
        params.n_parallel = 2
        params.n_ctx = context_tokens * 2
        # When the history window drops its oldest turns, the rest of the conversation is
        # still in the KV cache, just further along: llama.cpp shifts those entries into
        # place instead of re-reading them (measured: 0.4 s instead of ~35 s).
        params.n_cache_reuse = 64
        params.cpuparams.n_threads = threads
        # Reading the prompt is a batch job that scales with threads; writing the reply
        # token by token on more than one thread collapses when anything else runs.
        params.cpuparams_batch.n_threads = batch_threads
        params.verbosity = -1
        params.warmup = False
        # xllamacpp also opens an HTTP listener on loopback. Nobody but us should use it:
        # a random key closes it, and the slots endpoint (which shows prompts) is off.
        self._api_key = secrets.token_urlsafe(32)
        params.api_keys = [self._api_key]
        params.endpoint_slots = False
        params.endpoint_props = False
        params.cors_origins = "http://127.0.0.1"
        # KV-cache snapshots (see `warm`) live here; llama.cpp concatenates this path and
        # the file name as strings, hence the trailing slash.
        self._state_dir = state_dir
        # The session snapshot holds the conversation (token ids decode to its text): with the
        # database encrypted it is not written, so a restart re-reads the history instead.
        # The persona snapshot holds only the fixed persona prompt and stays.
        self._session_snapshots = session_snapshots
        # The shipped persona's snapshot is no one's data: kept once per machine (beside the
        # model), a new data folder or a new user restores it instead of reading the persona
        # again (~40 s for the 1.5B on 2 threads here).
        self._shared_state_dir = shared_state_dir
        if state_dir is not None:
            state_dir.mkdir(parents=True, exist_ok=True)
            params.slot_save_path = f"{state_dir}/"
        stat = path.stat()
        self._state_key = hashlib.sha256(
            f"{path.name}|{stat.st_size}|{stat.st_mtime_ns}|{context_tokens}".encode()
        ).hexdigest()[:12]
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:  # xllamacpp raises a bare RuntimeError on a bad file
            raise ModelFileError(
                f"llama.cpp could not load the model file {path} ({exc}). The file may be "
                "corrupted or truncated: for a packaged model, run `os1 setup` to rebuild it; "
                "for your own file, download it again."
            ) from None
        # One worker thread: llama.cpp serves one request at a time on one slot anyway,
        # and a single thread keeps cancelled requests strictly ordered.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="os1-llama")
        # Background requests (slot 1) have their own thread, so a reply never queues
        # behind them; llama.cpp batches both slots together while both are busy.
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="os1-llama-bg")
        self._closed = False
        # The newest anticipated prompt not yet read (see `anticipate`).
        self._guess: list[ChatMessage] | None = None
        self._guess_queued = False  # a job that will read `_guess` waits on the worker
        self._guess_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._path.name

    # -- KV-cache snapshots --------------------------------------------------------------
    #
    # Reading the ~500-token persona costs ~25 s on a 2-core CPU; restoring a snapshot of
    # llama.cpp's KV cache costs ~0.1 s. We keep two snapshots: the persona alone (made
    # once, at `os1 setup`), and the whole last session (written on close, so a restart
    # does not re-read the conversation). llama.cpp reuses only the part of a snapshot
    # that matches the new prompt token for token, so a stale snapshot is merely slower.

    @property
    def _session_file(self) -> str:
        return f"session-{self._state_key}.bin"

    def _persona_file(self, system_prompt: str) -> str:
        digest = hashlib.sha256(system_prompt.encode()).hexdigest()[:12]
        return f"persona-{self._state_key}-{digest}.bin"

    def _slot_action(self, action: str, filename: str) -> bool:
        try:
            response = httpx.post(
                f"{self._server.listening_address}/slots/0?action={action}",
                json={"filename": filename},
                headers={"Authorization": f"Bearer {self._api_key}"},
                timeout=120,
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def anticipate(self, messages: Sequence[ChatMessage]) -> None:
        """Read a prompt that is probably coming (the next turn's opening; in a voice turn,
        the words so far) now, so the real turn only reads what changed. Queued on the one
        worker; only the newest waits there: a newer guess replaces a queued one, and a real
        request drops it (a running one finishes: llama.cpp cannot stop a prompt read)."""
        if self._closed:
            return
        with self._guess_lock:
            self._guess = list(messages)
            if self._guess_queued:  # the queued job will take this newer guess
                return
            self._guess_queued = True

        def work() -> None:
            with self._guess_lock:
                guess, self._guess = self._guess, None
                self._guess_queued = False
            if guess is None:  # a real request came first
                return
            request = self._request(guess, GenerationOptions(max_tokens=0), stream=False)
            # Only an optimisation: if it fails, the next turn reads this part itself.
            with contextlib.suppress(Exception):
                _log_timings("anticipated", self._server.handle_chat_completions(request))

        self._executor.submit(work)

    def _drop_guess(self) -> None:
        with self._guess_lock:
            self._guess = None

    async def warm(self, system_prompt: str, shared: str = "") -> None:
        """Make the first reply fast: restore a KV snapshot, or make the persona's once.
        ``shared`` (the shipped persona, no one's data) gets a snapshot of its own; a user's
        persona that merely adds layers after it then reads only those layers."""
        if self._state_dir is None:
            return
        state_dir = self._state_dir
        personal = bool(shared) and system_prompt != shared

        def prime(text: str) -> None:
            messages = [ChatMessage("system", text), ChatMessage("user", ".")]
            self._server.handle_chat_completions(
                self._request(messages, GenerationOptions(max_tokens=1), stream=False))

        def restored(name: str) -> bool:
            return (state_dir / name).exists() and self._slot_action("restore", name)

        shipped = self._persona_file(shared) if shared else None

        def save(name: str) -> None:
            if self._slot_action("save", name) and name == shipped:
                self._share_snapshot(state_dir, name)

        def work() -> None:
            if shipped is not None:
                self._fetch_shared_snapshot(state_dir, shipped)
            sessions = [self._session_file] if self._session_snapshots else []
            if any(restored(name) for name in (*sessions, self._persona_file(system_prompt))):
                return
            if personal and system_prompt.startswith(shared):
                assert shipped is not None
                if not restored(shipped):
                    prime(shared)
                    save(shipped)
            prime(system_prompt)  # llama.cpp reuses the cached part and reads the rest
            # A user's own layers (names, what the companion learned) are their data: like
            # the session's snapshot, that one is not written when the database is encrypted.
            if not personal or self._session_snapshots:
                save(self._persona_file(system_prompt))

        await asyncio.get_running_loop().run_in_executor(self._executor, work)

    def _fetch_shared_snapshot(self, state_dir: Path, name: str) -> None:
        """Copy the machine's snapshot of the shipped persona in when this folder lacks one.
        A copy, never a link: erasing a user shreds this folder's snapshots in place."""
        machine = self._shared_state_dir / name if self._shared_state_dir else None
        here = state_dir / name
        if machine is None or here.exists() or not machine.exists():
            return
        try:
            _copy_atomically(machine, here)
        except OSError as exc:  # a cache we cannot read only costs one slower start
            log.debug("could not use the shared persona snapshot %s: %s", machine, exc)

    def _share_snapshot(self, state_dir: Path, name: str) -> None:
        if self._shared_state_dir is None or (self._shared_state_dir / name).exists():
            return
        try:
            self._shared_state_dir.mkdir(parents=True, exist_ok=True)
            _copy_atomically(state_dir / name, self._shared_state_dir / name)
        except OSError as exc:
            log.debug("could not keep the persona snapshot in %s: %s",
                      self._shared_state_dir, exc)

    def _request(
        self, messages: Sequence[ChatMessage], options: GenerationOptions, *, stream: bool,
        slot: int = _CONVERSATION_SLOT,
    ) -> dict[str, Any]:
        request = chat_request(messages, options, stream=stream)
        request["id_slot"] = slot
        request["repeat_penalty"] = options.repeat_penalty  # llama.cpp's own extras
        request["cache_prompt"] = True
        return request

    async def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncIterator[str]:
        if self._closed:
            raise ModelError("The model has been closed.")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def deliver(item: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:
                stop.set()  # the event loop is gone: nobody is listening any more

        def on_chunk(chunk: Any) -> bool:
            deliver(chunk)
            _log_timings("reply", chunk)
            return stop.is_set()  # True tells llama.cpp to stop generating

        def work() -> None:
            if stop.is_set():  # cancelled while queued (e.g. behind `anticipate`)
                deliver(_END)
                return
            try:
                result = self._server.handle_chat_completions(
                    self._request(messages, options, stream=True), on_chunk
                )
                if isinstance(result, dict) and "error" in result:
                    deliver(ModelError(_error_text(result)))
            except Exception as exc:
                deliver(ModelError(f"llama.cpp failed: {exc}"))
            finally:
                deliver(_END)

        self._drop_guess()
        self._executor.submit(work)
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, ModelError):
                    raise item
                if isinstance(item, dict):
                    if "error" in item:
                        raise ModelError(_error_text(item))
                    piece = delta_text(item)
                    if piece:
                        yield piece
        finally:
            # Reached on normal end, on error, and when the consumer stops early
            # (Ctrl-C, barge-in): the next callback returns True and llama.cpp stops.
            stop.set()

    async def structured(
        self,
        messages: Sequence[ChatMessage],
        schema: dict[str, Any],
        options: GenerationOptions,
    ) -> dict[str, Any]:
        """Background work: runs on slot 1, and stops at the next token when cancelled (a
        reply that starts meanwhile waits at most for the prompt read already under way)."""
        if self._closed:
            raise ModelError("The model has been closed.")
        request = self._request(messages, options, stream=True, slot=_BACKGROUND_SLOT)
        # llama.cpp turns the schema into a grammar: the model cannot write anything else.
        request["response_format"] = {"type": "json_schema", "json_schema": {"schema": schema}}
        stop = threading.Event()
        pieces: list[str] = []
        failures: list[str] = []

        def on_chunk(chunk: Any) -> bool:
            if isinstance(chunk, dict) and "error" in chunk:
                failures.append(_error_text(chunk))
            elif isinstance(chunk, dict):
                pieces.append(delta_text(chunk))
            return stop.is_set()

        def work() -> object:
            if stop.is_set():
                return None
            return self._server.handle_chat_completions(request, on_chunk)

        try:
            result = await asyncio.get_running_loop().run_in_executor(self._background, work)
        finally:
            stop.set()
        if isinstance(result, dict) and "error" in result:
            failures.append(_error_text(result))
        if failures:
            raise ModelError(failures[0])
        return parse_structured("".join(pieces), schema, self.name)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._state_dir is not None and self._session_snapshots:
            # Queued behind any reply still finishing, so the snapshot is complete.
            await asyncio.get_running_loop().run_in_executor(
                self._executor, self._slot_action, "save", self._session_file
            )
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._background.shutdown(wait=True, cancel_futures=True)
        # Dropping the server joins llama.cpp's loop thread and frees the weights.
        del self._server


def _copy_atomically(source: Path, target: Path) -> None:
    """Another process reading ``target`` meanwhile sees the whole file or none of it."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _log_timings(what: str, result: object) -> None:
    """How much of a prompt came from the KV cache: the first thing to look at when a first
    token is slow (`OS1_LOG_LEVEL=DEBUG` or logging's own configuration)."""
    if log.isEnabledFor(logging.DEBUG) and isinstance(result, dict) and result.get("timings"):
        timings = result["timings"]
        log.debug("%s: prompt %s tokens cached, %s read in %.0f ms", what,
                  timings.get("cache_n"), timings.get("prompt_n"), timings.get("prompt_ms", 0))


def _error_text(result: object) -> str:
    if isinstance(result, dict):
        error = result.get("error", result)
        text = (error.get("message") or json.dumps(error)) if isinstance(error, dict) else error
        if "context" in str(text) and "exceed" in str(text):
            return ("This message and the conversation before it do not fit in the model's "
                    "context window. Send a shorter message, lower OS1_HISTORY_CHARS or "
                    f"raise OS1_CONTEXT_TOKENS. (llama.cpp: {text})")
        return f"llama.cpp: {text}"
    return f"llama.cpp returned {result!r}"
