"""The mitmproxy addon: a thin adapter between flows and the pure inspection core.

It turns a request (or response) into a `Message`, has a worker process inspect it, and turns
the `Decision` back into the flow: a 403 for a block, a rewritten body or query for redact and
encrypt, nothing at all in monitor mode. Every message is logged; no failure lets an
uninspected body through when the policy says `on_error: block`.

The running proxy follows its policy file: it polls the file (every `dlp_reload_interval`
seconds) and re-reads it on SIGHUP. A new version is validated off the event loop and swapped
in whole; an invalid one is refused, logged with file and line, and the last good one stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from mitmproxy import ctx, exceptions, http
from mitmproxy.flow import Flow
from mitmproxy.websocket import WebSocketMessage

from dlp_proxy.core.inspect import Decision, Message, decide_by_route, error_decision, route
from dlp_proxy.crypto.keys import ENV_PREFIX, Keyring, ensure_keyring, open_keyring
from dlp_proxy.detection.presidio import DEFAULT_MODEL
from dlp_proxy.errors import BodyTooLarge, DlpError, InspectionError, PolicyError, UndecodableBody
from dlp_proxy.gateway.channels import ChannelGuard
from dlp_proxy.gateway.logs import error_text, exception_report
from dlp_proxy.gateway.responses import (
    EVENT_STREAM,
    ResponseCopy,
    ResponsePlan,
    Window,
    plan_response,
)
from dlp_proxy.gateway.trailers import (
    drop_response_trailers,
    install_http1_trailers,
    trailers_decision,
    trailers_response,
)
from dlp_proxy.gateway.workers import InspectorPool, WorkerSettings
from dlp_proxy.incidents.audit import AuditLog, FlowInfo, incident_record, new_incident_id
from dlp_proxy.incidents.evidence import evidence_plaintext
from dlp_proxy.incidents.responders import RESPONDERS_FILE, load_responders, recipients
from dlp_proxy.incidents.store import INCIDENTS_DB, IncidentWriter
from dlp_proxy.policy.loader import load_policy
from dlp_proxy.policy.model import Action, Direction, Mode, Policy
from dlp_proxy.policy.watch import WatchedFiles, parse_interval, policy_files

__all__ = ["DlpAddon", "blocked_response"]

logger = logging.getLogger(__name__)

# Why a policy was (re)loaded, as the `reason` of `policy_loaded` and `policy_refused` events.
LoadReason = Literal["startup", "option_changed", "file_changed", "sighup"]


def blocked_response(decision: Decision, incident_id: str) -> http.Response:
    """The 403 a client gets for a blocked transfer. It never echoes any of the content."""
    body = {
        "error": "blocked_by_dlp_policy",
        "incident_id": incident_id,
        "rule": decision.blocking_rule,
        "message": "This transfer was blocked by the data-loss-prevention gateway. "
        "Quote the incident id to your security team.",
    }
    return http.Response.make(403, json.dumps(body).encode(), {"Content-Type": "application/json"})


class DlpAddon:
    """Inspects requests (and responses, where a rule says so) under a YAML policy."""

    def __init__(self) -> None:
        self.policy: Policy | None = None
        self._policy_path = ""
        self.keyring: Keyring | None = None
        self.audit: AuditLog | None = None
        self.incidents: IncidentWriter | None = None
        self.pool: InspectorPool | None = None
        self._warm_up: asyncio.Task[None] | None = None
        # Reloading: the policy files as last read, the poll task, the SIGHUP handler's loop.
        self._files = WatchedFiles()
        self._reload_interval = 1.0
        self._reload_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._sighup_loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # Tunnels, protocol upgrades, WebSocket control frames: a child addon (channels.py).
        self.channels = ChannelGuard(self, blocked_response)
        self.addons = [self.channels]

    def load(self, loader: object) -> None:
        """Declare the addon's options; make mitmproxy's HTTP/1 layer hand trailers on."""
        install_http1_trailers()  # else a chunked message with trailers hangs its client
        add = loader.add_option  # type: ignore[attr-defined]
        add("dlp_policy", str, "", "The dlp-proxy policy file (YAML) to enforce.")
        add("dlp_data_dir", str, "var", "Directory for decisions.jsonl and incidents.jsonl.")
        add(
            "dlp_keyring",
            str,
            "",
            "The data keyring file (created if missing), or env:NAME to read it from an "
            "environment variable (never created). Default: dlp-keyring.json in the confdir.",
        )
        add("dlp_model", str, DEFAULT_MODEL, "spaCy model package name or directory for NER.")
        add("dlp_workers", int, 0, "Inspection worker processes; 0 means one per core.")
        add("dlp_timeout", float, 30.0, "Seconds an inspection may take before on_error applies.")
        add(
            "dlp_bulk_workers",
            int,
            1,
            "Low-priority processes for bodies over dlp_bulk_bytes; 0 sends them to the others.",
        )
        add("dlp_bulk_bytes", int, 64 * 1024, "Bodies over this many bytes go to the bulk lane.")
        add("dlp_bulk_timeout", int, 120, "Seconds a body in the bulk lane may take.")
        add("dlp_log_stdout", bool, False, "Also write each decision as a JSON line to stdout.")
        # A number held as text: mitmproxy's --set cannot parse float options.
        add(
            "dlp_reload_interval",
            str,
            "1.0",
            "Seconds between checks of the policy file for changes (a valid new version is "
            "applied, an invalid one refused and logged); 0 disables polling. SIGHUP also "
            "reloads.",
        )

    def configure(self, updated: set[str]) -> None:
        """Load the policy and keyring; a bad value is refused and the old one stays."""
        if "stream_large_bodies" in updated and ctx.options.stream_large_bodies:
            raise exceptions.OptionsError(
                "dlp-proxy cannot inspect streamed bodies: unset stream_large_bodies "
                "(bodies over the policy's max_body_bytes are handled by on_error)"
            )
        if "dlp_data_dir" in updated or "dlp_log_stdout" in updated or self.audit is None:
            if self.audit:
                self.audit.close()
            self.audit = AuditLog(ctx.options.dlp_data_dir, ctx.options.dlp_log_stdout)
        if "dlp_reload_interval" in updated:
            value = ctx.options.dlp_reload_interval
            try:
                self._reload_interval = parse_interval(value)
            except ValueError as e:
                raise exceptions.OptionsError(
                    f"Cannot parse dlp_reload_interval {value!r}: {e}"
                ) from e
            if self._loop is not None:  # already running: restart the poll task
                self._start_watching()
        # The keyring serves the policy: without one there is nothing to load. This also keeps
        # a refused start from creating a keyring, when mitmproxy rolls the options back to
        # their defaults and configures again.
        if ctx.options.dlp_policy and (
            "dlp_keyring" in updated or "confdir" in updated or self.keyring is None
        ):
            self.keyring = self._load_keyring()
        if "dlp_policy" in updated and ctx.options.dlp_policy != self._policy_path:
            # On a refused change mitmproxy rolls the option back and calls configure again
            # with the old path: that must keep the loaded policy, not re-read the file.
            path = ctx.options.dlp_policy
            before = WatchedFiles.snapshot((str(Path(path)),) if path else ())
            previous, policy = self.policy, self._load_policy(path)
            self.policy, self._policy_path = policy, path
            self._files = before.with_paths(policy_files(policy))
            if policy:
                self._loaded(
                    policy, previous, "startup" if self._loop is None else "option_changed"
                )
        # After the keyring and the policy: a start they refuse opens no store.
        if self.policy is not None and (
            "dlp_data_dir" in updated or "confdir" in updated or self.incidents is None
        ):
            self._open_incidents()

    def _open_incidents(self) -> None:
        """The incident store in the data dir, sealing evidence to the confdir's responders.

        A store or responders file that cannot be used refuses the start: a gateway that
        cannot keep incidents must not run.
        """
        responders_path = Path(ctx.options.confdir).expanduser() / RESPONDERS_FILE
        store_path = Path(ctx.options.dlp_data_dir) / INCIDENTS_DB
        try:
            responders = load_responders(responders_path)
            writer = IncidentWriter(store_path, recipients(responders))
            writer.open()
        except DlpError as e:
            raise exceptions.OptionsError(str(e)) from e
        if self.incidents is not None:
            self.incidents.close()
        self.incidents = writer
        if not responders:
            logger.warning(
                f"dlp-proxy: no responders in {responders_path}: incidents are stored without "
                "evidence; add one with `dlp-proxy responders add NAME PUBKEY`"
            )

    def _read_policy(self, path: str) -> Policy:
        """Read and validate the policy file: one place for configure and for reloads.

        Encryption key ids the policy names are checked against the loaded keyring.
        """
        key_ids = [k.id for k in self.keyring.keys] if self.keyring else None
        return load_policy(path, key_ids=key_ids)

    def _load_policy(self, path: str) -> Policy | None:
        if not path:
            return None
        try:
            return self._read_policy(path)
        except DlpError as e:
            raise exceptions.OptionsError(f"Cannot load policy {path}:\n{e}") from e

    @staticmethod
    def _load_keyring() -> Keyring:
        """The keyring `dlp_keyring` names: `env:NAME` as it is, a file created if missing.

        A file others can read, a variable that is unset or malformed: an `OptionsError` with
        the keyring's own message (which never quotes a secret).
        """
        source = ctx.options.dlp_keyring
        try:
            if source.startswith(ENV_PREFIX):
                return open_keyring(source)
            path = Path(source or Path(ctx.options.confdir) / "dlp-keyring.json").expanduser()
            try:
                return ensure_keyring(path)
            except OSError as e:  # creating it: a missing or read-only directory
                raise exceptions.OptionsError(
                    f"Cannot create keyring {path}: {e.strerror}; make the directory writable "
                    "or point dlp_keyring at an existing keyring"
                ) from e
        except DlpError as e:
            raise exceptions.OptionsError(str(e)) from e

    def running(self) -> None:
        """Start the workers (loading the model in the background) and the policy watchers."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._install_sighup(loop)
        self._start_watching()
        if self.pool is None:
            settings = WorkerSettings(
                workers=ctx.options.dlp_workers,
                model=ctx.options.dlp_model,
                timeout=ctx.options.dlp_timeout,
                bulk_workers=ctx.options.dlp_bulk_workers,
                bulk_bytes=ctx.options.dlp_bulk_bytes,
                bulk_timeout=ctx.options.dlp_bulk_timeout,
            )
            self.pool = InspectorPool(settings)
            self._warm_up = asyncio.get_running_loop().create_task(self._start_workers())

    async def _start_workers(self) -> None:
        assert self.pool is not None
        try:
            seconds = await self.pool.warm_up()
        except Exception as e:  # noqa: BLE001 - reported, and inspections will fail closed
            logger.error(f"dlp-proxy workers failed to start: {type(e).__name__}: {e}")
            if self.audit:
                self.audit.event("workers_failed", error=f"{type(e).__name__}: {e}")
            return
        listening = f"{ctx.options.listen_host or '*'}:{ctx.options.listen_port or 8080}"
        modes = ",".join(ctx.options.mode)
        policy_name = self.policy.name if self.policy else None
        print(
            f"dlp-proxy ready on {listening} ({modes}), policy {policy_name}, "
            f"{self.pool.size} workers, {self.pool.settings.bulk_workers} for bulk",
            file=sys.stderr,
            flush=True,
        )
        if self.audit:
            self.audit.event(
                "proxy_ready",
                listen=listening,
                modes=list(ctx.options.mode),
                workers=self.pool.size,
                bulk_workers=self.pool.settings.bulk_workers,
                bulk_bytes=self.pool.settings.bulk_bytes,
                bulk_timeout_s=self.pool.settings.bulk_timeout,
                model=self.pool.settings.model,
                warm_up_s=round(seconds, 2),
                policy=self.policy.name if self.policy else None,
                responders=len(self.incidents.recipients) if self.incidents else 0,
            )

    def done(self) -> None:
        """Stop watching the policy, stop the workers and close the logs."""
        self._stop_watching()
        for task in list(self._tasks):
            task.cancel()
        if self._sighup_loop is not None:
            with contextlib.suppress(RuntimeError, ValueError):  # loop closed, or not main thread
                self._sighup_loop.remove_signal_handler(signal.SIGHUP)
            self._sighup_loop = None
        self._loop = None
        if self.pool:
            self.pool.close()
            self.pool = None
        if self.incidents:
            self.incidents.close()
            self.incidents = None
        if self.audit:
            self.audit.close()
            self.audit = None

    # --- reloading the policy -------------------------------------------------------------------

    async def reload_policy(self, reason: LoadReason) -> bool:
        """Re-read the policy file; swap in a valid new version, refuse an invalid one.

        Returns whether a new policy was applied. The file read is always the one the
        `dlp_policy` option names; unchanged content (same sha256) changes nothing.
        """
        async with self._reload_lock:
            return await self._reload(reason)

    async def _reload(self, reason: LoadReason) -> bool:
        current, path = self.policy, self._policy_path
        if current is None or not path:
            return False  # no policy configured: nothing to reload
        files = await asyncio.to_thread(WatchedFiles.snapshot, policy_files(current))
        new: Policy | None = None
        try:
            new = await asyncio.to_thread(self._read_policy, path)
        except PolicyError as e:
            problems = [str(p) for p in e.problems]
        except Exception as e:  # noqa: BLE001 - a loader bug must not stop the proxy: it is logged
            logger.error(f"dlp-proxy: reading policy {path} failed\n{exception_report(e)}")
            problems = [f"{path}: cannot be loaded: {type(e).__name__}: {e}"]
        if self.policy is not current or self._policy_path != path:
            return False  # the dlp_policy option changed meanwhile, and configure loaded that
        if new is None:
            self._files = files  # this content was refused: only a further change is news
            self._refused(path, problems, current, reason)
            return False
        if new.sha256 == current.sha256:
            self._files = files.with_paths(policy_files(new))  # touched, not changed
            return False
        self.policy = new  # one assignment: inspections in flight keep the policy they started with
        self._files = files.with_paths(policy_files(new))
        self._loaded(new, current, reason)
        return True

    def _loaded(self, policy: Policy, previous: Policy | None, reason: LoadReason) -> None:
        """Record a policy now in force (and, unless at startup, say so on stderr)."""
        if self.audit:
            self.audit.event(
                "policy_loaded",
                reason=reason,
                policy=policy.name,
                policy_sha256=policy.sha256,
                previous_sha256=previous.sha256 if previous else None,
                file=policy.source,
                rules=len(policy.rules),
                mode=policy.mode.value,
                warnings=[str(w) for w in policy.warnings],
            )
        for warning in policy.warnings:
            logger.warning(f"dlp-proxy: {warning}")
        if reason != "startup":
            print(
                f"dlp-proxy: policy reloaded: {policy.name} sha256 {policy.sha256[:12]}",
                file=sys.stderr,
                flush=True,
            )

    def _refused(self, path: str, problems: list[str], kept: Policy, reason: LoadReason) -> None:
        """Record a refused policy version, loudly: the proxy is not running what is on disk."""
        if self.audit:
            self.audit.event(
                "policy_refused",
                reason=reason,
                file=path,
                problems=problems,
                kept_sha256=kept.sha256,
            )
        logger.error(
            f"dlp-proxy: policy {path} refused ({reason}); still enforcing {kept.name} "
            f"sha256 {kept.sha256[:12]}. Fix these and save again:\n" + "\n".join(problems)
        )

    def _start_watching(self) -> None:
        """(Re)start the poll task, unless polling is off."""
        self._stop_watching()
        if self._loop is not None and self._reload_interval > 0:
            self._watcher = self._loop.create_task(
                self._watch(self._reload_interval), name="dlp-proxy policy watcher"
            )

    def _stop_watching(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None

    async def _watch(self, interval: float) -> None:
        """Check the policy files every `interval` seconds and reload when their content changed."""
        while True:
            await asyncio.sleep(interval)
            try:
                async with self._reload_lock:
                    if await asyncio.to_thread(self._files.changed):
                        await self._reload("file_changed")
            except Exception as e:  # noqa: BLE001 - logged; the watcher must keep watching
                logger.error(
                    "dlp-proxy: checking the policy file for changes failed\n" + exception_report(e)
                )

    def _install_sighup(self, loop: asyncio.AbstractEventLoop) -> None:
        """Reload on SIGHUP, where signals can be handled (POSIX, the main thread)."""
        if self._sighup_loop is not None or not hasattr(signal, "SIGHUP"):
            return
        if threading.current_thread() is not threading.main_thread():
            return
        try:
            loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        except (NotImplementedError, RuntimeError, ValueError) as e:
            logger.warning(f"dlp-proxy: SIGHUP will not reload the policy: {e}")
            return
        self._sighup_loop = loop

    def _on_sighup(self) -> None:
        self._spawn(_logged("keyring", self.reload_keyring()))
        self._spawn(_logged("responders", self.reload_responders()))
        self._spawn(_logged("policy (sighup)", self.reload_policy("sighup")))

    async def reload_responders(self) -> bool:
        """Re-read the responders file (after `responders add`); keep the old list if unusable.

        Returns whether a changed list was applied: incidents written from now on are sealed
        to it.
        """
        writer = self.incidents
        if writer is None:
            return False
        path = Path(ctx.options.confdir).expanduser() / RESPONDERS_FILE
        try:
            responders = await asyncio.to_thread(load_responders, path)
        except DlpError as e:
            logger.error(f"dlp-proxy: responders not reloaded, the running ones stay: {e}")
            if self.audit:
                self.audit.event("responders_refused", error=str(e))
            return False
        new = tuple(recipients(responders))
        if [r.key_id for r in new] == [r.key_id for r in writer.recipients]:
            return False
        writer.recipients = new
        if self.audit:
            self.audit.event(
                "responders_loaded",
                reason="sighup",
                responders=[{"name": r.name, "key_id": r.key_id} for r in new],
            )
        print(f"dlp-proxy: responders reloaded: {len(new)}", file=sys.stderr)
        return True

    async def reload_keyring(self) -> bool:
        """Re-read the keyring (after `keys rotate` or `keys retire`); keep it if unreadable.

        Returns whether a changed keyring was applied. Inspections in flight keep the keyring
        they started with.
        """
        current = self.keyring
        if current is None:
            return False
        try:
            new = await asyncio.to_thread(self._load_keyring)
        except exceptions.OptionsError as e:
            logger.error(f"dlp-proxy: keyring not reloaded, the running keys stay: {e}")
            if self.audit:
                self.audit.event("keyring_refused", error=str(e), kept=_key_states(current))
            return False
        if new == current:
            return False
        self.keyring = new
        if self.audit:
            self.audit.event(
                "keyring_loaded",
                reason="sighup",
                active=new.active.id,
                keys=_key_states(new),
                previous=_key_states(current),
            )
        print(f"dlp-proxy: keyring reloaded: active key {new.active.id}", file=sys.stderr)
        return True

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run `coroutine` as a task the addon keeps a reference to (and cancels in `done`)."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- hooks ---------------------------------------------------------------------------------

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        """Make sure a body we must inspect is buffered, never streamed past us."""
        flow.request.stream = False

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        """Choose how the body is read (`gateway.responses`).

        Passed on unread (no rule covers it), passed on with a copy inspected (only rules on
        trial do), or held until inspected (a rule that acts does).
        """
        if flow.response is None or flow.metadata.get("dlp_blocked"):
            return
        policy = self.policy
        if policy is None:
            flow.response.stream = False  # idle: mitmproxy's own default
            return
        plan = plan_response(_message(flow, Direction.RESPONSE, with_body=False), policy)
        flow.metadata["dlp_response_plan"] = plan.value
        if plan is ResponsePlan.PASS:
            flow.response.stream = True
        elif plan is ResponsePlan.OBSERVE:
            flow.response.stream = self._response_copy(flow, policy)
        else:
            flow.response.stream = False

    async def request(self, flow: http.HTTPFlow) -> None:
        """Inspect a request before it is sent to the vendor; one with trailers is refused."""
        if flow.response or flow.error or not flow.live:
            return
        if flow.request.trailers:
            await self._refuse_trailers(flow)
            return
        await self._handle_http(flow, Direction.REQUEST)

    async def response(self, flow: http.HTTPFlow) -> None:
        """Inspect a response before the client sees it, as its plan says (`responseheaders`)."""
        if flow.response is None or flow.metadata.get("dlp_blocked") or flow.error:
            return
        policy = self.policy
        plan = ResponsePlan(flow.metadata.get("dlp_response_plan", ResponsePlan.HOLD))
        if "dlp_response_plan" not in flow.metadata and policy is not None:
            plan = plan_response(_message(flow, Direction.RESPONSE, with_body=False), policy)
        acts = policy is not None and plan is ResponsePlan.HOLD
        dropped = drop_response_trailers(flow, rule_acts=acts)
        if dropped and self.audit:
            self.audit.event("response_trailers_dropped", flow_id=flow.id, reason=dropped)
        if flow.response.trailers and plan is ResponsePlan.OBSERVE:
            await self._observe_trailers(flow)
        copy = flow.response.stream
        if isinstance(copy, ResponseCopy):
            copy.finish()  # the body went on as it came; its last window is inspected now
            return
        if plan is ResponsePlan.PASS and flow.response.raw_content is None:
            return  # streamed past unread: no rule covers it
        await self._handle_http(flow, Direction.RESPONSE, observe=plan is ResponsePlan.OBSERVE)

    async def _observe_trailers(self, flow: http.HTTPFlow) -> None:
        """Inspect the trailers an HTTP/2 client gets (rules on trial only): logged, never held.

        They are headers the vendor sends after the body, read as the response's headers.
        """
        assert flow.response is not None
        assert flow.response.trailers is not None
        trailers = tuple(flow.response.trailers.items(multi=True))

        def message() -> Message:
            return replace(_message(flow, Direction.RESPONSE, with_body=False), headers=trailers)

        source = _Source(head=message, wire_size=lambda: 0, full=message)
        await self._inspect(flow, Direction.RESPONSE, source, flow.request.method, observe=True)

    def error(self, flow: http.HTTPFlow) -> None:
        """A response cut off mid-way: what the client got of an observed one is inspected."""
        copy = flow.response.stream if flow.response is not None else None
        if isinstance(copy, ResponseCopy):
            copy.finish()

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        """Inspect a WebSocket message: client to vendor is a request, vendor to client a response.

        A blocked message is dropped (the connection stays open); a redacted one is rewritten.
        """
        assert flow.websocket is not None
        frame = flow.websocket.messages[-1]
        direction = Direction.REQUEST if frame.from_client else Direction.RESPONSE
        source = _Source(
            head=lambda: _websocket_message(flow, frame, direction, with_body=False),
            wire_size=lambda: len(frame.content),
            full=lambda: _websocket_message(flow, frame, direction, with_body=True),
        )
        outcome = await self._inspect(flow, direction, source, method="WEBSOCKET")
        if outcome is None or not outcome.enforced:
            return
        if outcome.action is Action.BLOCK:
            frame.drop()
        elif outcome.body is not None:
            frame.content = outcome.body

    async def _handle_http(
        self, flow: http.HTTPFlow, direction: Direction, observe: bool = False
    ) -> None:
        source = _Source(
            head=lambda: _message(flow, direction, with_body=False),
            wire_size=lambda: _wire_size(_part(flow, direction)),
            full=lambda: _message(flow, direction, with_body=True),
        )
        method = flow.request.method
        decision = await self._inspect(flow, direction, source, method, observe=observe)
        if decision is not None and decision.enforced:
            _apply(flow, direction, decision, flow.metadata.get("dlp_incident_id"))

    async def _refuse_trailers(self, flow: http.HTTPFlow) -> None:
        """Answer a request that has trailers with a 400, logged under the rule `trailers`."""
        incident_id = None
        if self.policy is not None and self.audit is not None:
            head = _message(flow, Direction.REQUEST, with_body=False)
            where = route(head, self.policy)
            vendor = where.vendor.id if where.vendor else None
            decision = trailers_decision(self.policy, vendor, head.path)
            source = _Source(
                head=lambda: head,
                wire_size=lambda: _wire_size(flow.request),
                full=lambda: _message(flow, Direction.REQUEST, with_body=True),
            )
            info = _flow_info(flow, Direction.REQUEST, flow.request.method)
            url = flow.request.pretty_url
            incident_id = await self._record(flow, info, url, decision, 0.0, source, self.policy)
        flow.response = trailers_response(incident_id)
        flow.metadata["dlp_blocked"] = True

    def _response_copy(self, flow: http.HTTPFlow, policy: Policy) -> ResponseCopy:
        """The stream callable of an observed response, inspecting its windows as they come."""
        head = _message(flow, Direction.RESPONSE, with_body=False)
        media_type = head.content_type.split(";", 1)[0].strip().lower()
        events = media_type == EVENT_STREAM and head.content_encoding.strip() in ("", "identity")

        windows = 0

        def submit(window: Window) -> None:
            nonlocal windows
            # The headers are read with the first window only: later ones would count them again.
            part = head if windows == 0 else replace(head, headers=())
            windows += 1
            self._spawn(self._observe(flow, part, window))

        loop = asyncio.get_running_loop()
        return ResponseCopy(policy.max_body_bytes, events, submit, loop.call_later)

    async def _observe(self, flow: http.HTTPFlow, head: Message, window: Window) -> None:
        """Inspect one window of an observed response; log what it would have done."""

        def full() -> Message:
            if window.body is None:
                raise BodyTooLarge(f"a response of over {window.size} bytes was not copied")
            return replace(head, body=window.body)

        source = _Source(head=lambda: head, wire_size=lambda: window.size, full=full)
        await self._inspect(flow, Direction.RESPONSE, source, flow.request.method, observe=True)

    async def _inspect(
        self,
        flow: http.HTTPFlow,
        direction: Direction,
        source: _Source,
        method: str,
        observe: bool = False,
    ) -> Decision | None:
        """Decide on one message and log it; `None` when there is nothing to do or log.

        With `observe` the message has gone on already: the decision is logged as what it
        would have done (monitor mode).
        """
        info = _flow_info(flow, direction, method)
        return await self._inspect_as(flow, info, flow.request.pretty_url, source, observe)

    async def inspect_channel(
        self, flow: Flow, info: FlowInfo, url: str, message: Message
    ) -> Decision | None:
        """Inspect a message of a tunnel (channels.py) and log it, as HTTP messages are."""
        source = _Source(
            head=lambda: replace(message, body=b""),
            wire_size=lambda: len(message.body),
            full=lambda: message,
        )
        return await self._inspect_as(flow, info, url, source)

    async def record_channel(
        self, flow: Flow | None, info: FlowInfo, url: str, decision: Decision, message: Message
    ) -> str | None:
        """Log a decision channels.py made without inspecting; returns the incident id if any."""
        policy = self.policy
        if policy is None or self.audit is None:
            return None
        source = _Source(
            head=lambda: message, wire_size=lambda: len(message.body), full=lambda: message
        )
        return await self._record(flow, info, url, decision, 0.0, source, policy)

    async def _inspect_as(
        self, flow: Flow, info: FlowInfo, url: str, source: _Source, observe: bool = False
    ) -> Decision | None:
        policy, keyring = self.policy, self.keyring
        if policy is None or keyring is None or self.audit is None:
            return None  # no policy configured: the addon is idle, as mitmproxy addons are
        started = time.monotonic()
        try:
            decision = await self._decide(source, policy, keyring)
        except InspectionError as e:
            decision = error_decision(policy, f"{e.reason}: {e}")
        except Exception as e:  # noqa: BLE001 - logged without its message (it may quote the body)
            logger.error(f"dlp-proxy failed to inspect a message\n{exception_report(e)}")
            decision = error_decision(policy, f"internal_error: {type(e).__name__}")
        elapsed_ms = (time.monotonic() - started) * 1000
        if observe and decision.mode is not Mode.MONITOR:
            decision = replace(decision, mode=Mode.MONITOR)
        response = info.direction == Direction.RESPONSE.value
        if response and not decision.inspected and not decision.error:
            return None  # no rule covers this response: nothing to log
        await self._record(flow, info, url, decision, elapsed_ms, source, policy)
        return decision

    async def _record(
        self,
        flow: Flow | None,
        info: FlowInfo,
        url: str,
        decision: Decision,
        elapsed_ms: float,
        source: _Source,
        policy: Policy,
    ) -> str | None:
        """Log a decision; a block (or would_block) is an incident, stored before the answer."""
        assert self.audit is not None
        # A shadow rule's would_block is an incident too: responders see what it would stop.
        blocks = Action.BLOCK in (decision.action, decision.shadow_action)
        incident_id = new_incident_id() if blocks else None
        self.audit.decision(info, decision, elapsed_ms, incident_id)
        if incident_id:
            self.audit.incident(info, decision, incident_id)
            if flow is not None:
                flow.metadata["dlp_incident_id"] = incident_id
            await self._store_incident(url, info, decision, incident_id, source, policy)
        if flow is not None:
            flow.metadata["dlp_outcome"] = decision.outcome
        return incident_id

    async def _store_incident(
        self,
        url: str,
        info: FlowInfo,
        decision: Decision,
        incident_id: str,
        source: _Source,
        policy: Policy,
    ) -> None:
        """Store the incident, its evidence sealed, before the answer goes out.

        A store that fails is logged loudly; the decision stands (a blocked transfer stays
        blocked).
        """
        assert self.audit is not None
        try:
            message: Message | None = source.full()
        except DlpError:
            message = None  # a streamed body: nothing to keep but the metadata
        size = len(message.body) if message is not None else (source.wire_size() or 0)
        incident = incident_record(info, decision, incident_id, size, policy.evidence.value)

        def evidence() -> bytes | None:
            if message is None:
                return None
            return evidence_plaintext(message, decision, policy, url)

        try:
            if self.incidents is None:
                raise RuntimeError("the incident store is not open")
            await self.incidents.add(incident, evidence)
        except Exception as e:  # noqa: BLE001 - any failure: logged loudly, decision stands
            blocked = decision.enforced and decision.action is Action.BLOCK
            kept = "blocked" if blocked else "forwarded"
            logger.error(
                f"dlp-proxy could NOT store incident {incident_id} "
                f"({error_text(e)}); the transfer was {kept}"
            )
            self.audit.event(
                "incident_store_failed",
                incident_id=incident_id,
                error=error_text(e),
                transfer=kept,
            )

    async def _decide(self, source: _Source, policy: Policy, keyring: Keyring) -> Decision:
        early = decide_by_route(source.head(), policy)
        if early is not None:
            return early
        size = source.wire_size()
        if size is not None and size > policy.max_body_bytes:
            # Checked before decompressing too, so an oversized body is never expanded.
            raise BodyTooLarge(
                f"body of {size} bytes is over max_body_bytes ({policy.max_body_bytes})"
            )
        message = source.full()
        assert self.pool is not None
        return await self.pool.inspect(message, policy, keyring)


@dataclass(frozen=True)
class _Source:
    """How to read one message of a flow: its head (no body), its size on the wire, all of it."""

    head: Callable[[], Message]
    wire_size: Callable[[], int | None]
    full: Callable[[], Message]


async def _logged(what: str, reload: Coroutine[Any, Any, bool]) -> None:
    """Await a reload; a failure is logged, and what is running stays."""
    try:
        await reload
    except Exception as e:  # noqa: BLE001 - logged with its traceback (no message)
        logger.error(f"dlp-proxy: {what} reload failed\n{exception_report(e)}")


def _wire_size(part: http.Message) -> int | None:
    return None if part.raw_content is None else len(part.raw_content)


def _websocket_message(
    flow: http.HTTPFlow, frame: WebSocketMessage, direction: Direction, with_body: bool
) -> Message:
    """A WebSocket message as the core sees it: text is inspected like an untyped body."""
    return Message(
        direction=direction,
        method=flow.request.method,
        host=flow.request.host,
        path=flow.request.path.split("?", 1)[0],
        content_type="" if frame.is_text else "application/octet-stream",
        body=frame.content if with_body else b"",
    )


def _part(flow: http.HTTPFlow, direction: Direction) -> http.Message:
    """The request or the response of a flow, whichever is being inspected."""
    if direction is Direction.REQUEST:
        return flow.request
    assert flow.response is not None, "responses are only inspected once they exist"
    return flow.response


def _message(flow: http.HTTPFlow, direction: Direction, with_body: bool) -> Message:
    """The core's view of a request or response, its body as on the wire (still compressed)."""
    request = flow.request
    part = _part(flow, direction)
    body = b""
    if with_body:
        if part.raw_content is None:
            raise UndecodableBody("the body was streamed and cannot be inspected")
        body = part.raw_content
    query = tuple(request.query.items(multi=True)) if direction is Direction.REQUEST else ()
    return Message(
        direction=direction,
        method=request.method,
        host=request.host,
        path=request.path.split("?", 1)[0],
        query=query,
        content_type=part.headers.get("content-type", ""),
        body=body,
        content_encoding=part.headers.get("content-encoding", ""),
        headers=tuple(part.headers.items(multi=True)),
        request_target=request.path,
        authority=request.authority,
    )


def _apply(
    flow: http.HTTPFlow, direction: Direction, decision: Decision, incident_id: str | None
) -> None:
    """Carry out an enforced decision on the request or response."""
    if decision.action is Action.BLOCK:
        assert incident_id is not None
        flow.response = blocked_response(decision, incident_id)
        flow.metadata["dlp_blocked"] = True
        return
    part = _part(flow, direction)
    if decision.body is not None:
        part.raw_content = decision.body  # already re-encoded per Content-Encoding by the core
        if "content-length" in part.headers:
            part.headers["content-length"] = str(len(decision.body))
    if decision.path is not None:
        _, sep, query = flow.request.path.partition("?")
        flow.request.path = f"{decision.path}{sep}{query}"
    if decision.query is not None:
        flow.request.query = list(decision.query)
    if decision.headers is not None:
        part.headers = http.Headers(
            [
                (n.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"))
                for n, v in decision.headers
            ]
        )


def _flow_info(flow: http.HTTPFlow, direction: Direction, method: str) -> FlowInfo:
    peer = flow.client_conn.peername
    client = f"{peer[0]}:{peer[1]}" if peer else ""
    return FlowInfo(
        flow_id=flow.id,
        client=client,
        scheme=flow.request.scheme,
        host=flow.request.host,
        port=flow.request.port,
        method=method,
        path=flow.metadata.get("dlp_logged_path", flow.request.path),  # the request's, as logged
        direction=direction.value,
    )


def _key_states(keyring: Keyring) -> dict[str, str]:
    """Key id to state, for the log: never a secret."""
    return {k.id: str(k.state) for k in keyring.keys}
