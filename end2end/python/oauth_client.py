#!/usr/bin/env python3
"""An MCP client that signs in to a Gatehouse endpoint with the official MCP Python SDK's OAuth
client (`mcp.client.auth.OAuthClientProvider`), as end2end/tests/oauth_python.test.mjs runs it.

The SDK does everything an app's OAuth does: it meets the endpoint's 401, discovers the
protected resource and the authorization server, registers itself (dynamic client
registration), sends the user to the authorization URL and exchanges the code. The "user" is
`Owner` below: an httpx client signed in to the dashboard as the server's owner, which opens
the authorization URL, reads the consent page and allows it, the way a person in a browser
would. Then, through the gateway: initialize, list tools, call echo; the SDK's clock is moved
past the access token's `expires_in` so the SDK refreshes it with its own refresh request; a
long call (ticker) stays open until the test revokes the grant in the browser, which must end
that stream at once; and the last refresh token must then be refused with `invalid_grant`.

Every fact the test checks is printed on stdout as one JSON object a line (`event` names it,
`t` is the wall clock in ms). Exit 0 only when everything here held; otherwise the last line is
`{"event": "failed", "message": ...}` and the exit code is 1.

    oauth_client.py --base URL --mcp-url URL --server-id ID --email E --password P --client-name N
"""

import argparse
import base64
import html
import json
import logging
import sys
import time
import urllib.parse
from html.parser import HTMLParser
from typing import Any

import anyio
import httpx2
import mcp.client.auth.oauth2 as sdk_oauth2
from mcp.client.auth import OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

# How long the whole script may take, and how long a revoked stream may stay open before the
# script gives up on it (the test's own bound is far tighter; this only keeps a failure short).
OVERALL_SECONDS = 50
STREAM_END_SECONDS = 15
# The long call: 300 ticks of 100 ms, far longer than the test waits for the revocation.
TICKS = 300


def now_ms() -> int:
    return int(time.time() * 1000)


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, "t": now_ms(), **fields}), flush=True)


class Failed(Exception):
    """A check that did not hold; its message says what was expected and what came."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


def jwt_claims(token: str) -> dict[str, Any]:
    """The (unverified) claims of a JWT: the test only reads `jti`, the grant's token id."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as e:
        raise Failed(f"the access token is not a JWT ({e}): {token[:40]}…") from e


class SdkClock:
    """Replaces the `time` module inside the SDK's oauth2 module only, so the SDK can be told
    that its access token's lifetime has passed without waiting for it (the SDK refreshes only
    when `time.time()` is past the expiry it computed from `expires_in`). The jump ends when the
    SDK stores new tokens, as a real clock would then be inside the new token's lifetime."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


CLOCK = SdkClock()
sdk_oauth2.time = CLOCK  # type: ignore[assignment]


class Storage:
    """The SDK's TokenStorage, in memory; remembers every token set the SDK stores."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None
        self.history: list[OAuthToken] = []

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens
        self.history.append(tokens)
        CLOCK.offset = 0.0

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class Exchange:
    """One HTTP request the SDK made, as the recording transport saw it."""

    def __init__(self, request: httpx2.Request) -> None:
        self.method = request.method
        self.url = str(request.url)
        self.path = request.url.path
        self.authorization = request.headers.get("authorization", "")
        try:
            self.body = request.content.decode("utf-8", "replace")
        except httpx2.RequestNotRead:
            self.body = ""
        self.status: int | None = None
        self.content_type = ""
        self.started = now_ms()
        self.headers_at: int | None = None
        self.ended_at: int | None = None
        self.ended_how: str | None = None
        self.headers_seen = anyio.Event()
        self.ended = anyio.Event()

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body))

    def jsonrpc(self) -> dict[str, Any]:
        try:
            message = json.loads(self.body)
            return message if isinstance(message, dict) else {}
        except ValueError:
            return {}

    def summary(self) -> dict[str, Any]:
        seen = {"method": self.method, "path": self.path, "status": self.status, "content_type": self.content_type}
        if self.status is None:
            seen["failed"] = self.ended_how
        return seen


class RecordedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, exchange: Exchange) -> None:
        self.inner = inner
        self.exchange = exchange

    def _end(self, how: str) -> None:
        if not self.exchange.ended.is_set():
            self.exchange.ended_at = now_ms()
            self.exchange.ended_how = how
            self.exchange.ended.set()

    async def __aiter__(self):
        try:
            async for chunk in self.inner:
                yield chunk
        except BaseException as e:
            self._end(f"error: {type(e).__name__}: {e}")
            raise
        self._end("end of body")

    async def aclose(self) -> None:
        self._end("closed by the client")
        await self.inner.aclose()


class RecordingTransport(httpx2.AsyncBaseTransport):
    """Records every request (the SDK's discovery, registration, token and MCP requests) and
    when each response's body ended, so the script can tell when the gateway cut a stream."""

    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.exchanges: list[Exchange] = []
        self.changed = anyio.Event()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        exchange = Exchange(request)
        self.exchanges.append(exchange)
        try:
            response = await self.inner.handle_async_request(request)
        except BaseException as e:
            exchange.ended_how = f"error: {type(e).__name__}: {e}"
            exchange.ended_at = now_ms()
            exchange.ended.set()
            raise
        exchange.status = response.status_code
        exchange.content_type = response.headers.get("content-type", "")
        exchange.headers_at = now_ms()
        exchange.headers_seen.set()
        response.stream = RecordedStream(response.stream, exchange)  # type: ignore[arg-type]
        self.changed.set()
        self.changed = anyio.Event()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    def find(self, predicate) -> list[Exchange]:
        return [e for e in self.exchanges if predicate(e)]


# Every request the SDK makes goes through this (made in `run`); a failure prints what it saw.
RECORDER: RecordingTransport | None = None


class FormReader(HTMLParser):
    """The consent page's form and the answer page's continue link, from the served HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.continue_href: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: (v if v is not None else "") for k, v in attrs_list}
        if tag == "form":
            self.forms.append({"attrs": attrs, "inputs": [], "selects": {}, "buttons": []})
        elif not self.forms:
            pass
        elif tag == "input":
            self.forms[-1]["inputs"].append(attrs)
        elif tag == "select":
            self._select = attrs.get("name")
            self.forms[-1]["selects"][self._select] = {"options": [], "selected": None}
        elif tag == "option" and self._select is not None:
            select = self.forms[-1]["selects"][self._select]
            select["options"].append(attrs.get("value"))
            if "selected" in attrs:
                select["selected"] = attrs.get("value")
        elif tag == "button":
            self.forms[-1]["buttons"].append(attrs)
        if tag == "a" and attrs.get("id") == "continue":
            self.continue_href = attrs.get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


class Owner:
    """The server's owner at a browser: signed in to the dashboard, answers the consent page."""

    def __init__(self, base: str, server_id: str, redirect_uri: str) -> None:
        self.base = base
        self.server_id = server_id
        self.redirect_uri = redirect_uri
        self.http = httpx2.AsyncClient(base_url=base, follow_redirects=False, timeout=15)
        self.answer: AuthorizationCodeResult | None = None
        self.consents = 0
        self.refusing = False
        self.refused: list[str] = []

    async def sign_in(self, email: str, password: str) -> None:
        response = await self.http.post("/api/v1/auth/login", json={"email": email, "password": password})
        expect(response.is_success, f"POST /api/v1/auth/login answered {response.status_code}: {response.text[:300]}")

    async def redirect_handler(self, authorization_url: str) -> None:
        """The SDK's redirect_handler: what a browser does with the authorization URL."""
        if self.refusing:
            # After the revocation the SDK meets 401s again and starts a new sign-in; a person
            # would have to approve it again, and this one does not.
            self.refused.append(authorization_url)
            emit("reauthorization_refused", url=authorization_url)
            raise Failed("the user did not sign in again after revoking the grant")
        self.consents += 1
        emit("authorization_url", url=authorization_url)
        parsed = urllib.parse.urlsplit(authorization_url)
        params = dict(urllib.parse.parse_qsl(parsed.query))
        expect(
            authorization_url.startswith(f"{self.base}/oauth/authorize?"),
            f"the SDK sent the user to {authorization_url}, not to {self.base}/oauth/authorize",
        )

        start = await self.http.get(authorization_url)
        location = start.headers.get("location", "")
        expect(
            start.status_code in (302, 303) and location.startswith("/oauth/consent?request="),
            f"GET {authorization_url} answered {start.status_code} (Location {location!r}), "
            f"not a redirect to /oauth/consent?request=…: {start.text[:500]}",
        )
        consent = await self.http.get(location)
        expect(
            consent.status_code == 200,
            f"GET {location} answered {consent.status_code} (Location {consent.headers.get('location')!r}) "
            "for the signed-in owner",
        )
        reader = FormReader()
        reader.feed(consent.text)
        forms = [f for f in reader.forms if f["attrs"].get("action") == "/oauth/authorize"]
        expect(len(forms) == 1, f"the consent page has {len(forms)} forms posting to /oauth/authorize:\n{consent.text[:3000]}")
        form = forms[0]
        expect(form["attrs"].get("method", "").lower() == "post", f"the consent form's method is {form['attrs'].get('method')!r}")
        hidden = {i.get("name"): i.get("value", "") for i in form["inputs"] if i.get("type") == "hidden"}
        expect(bool(hidden.get("request")) and bool(hidden.get("csrf")), f"the consent form's hidden fields are {hidden}")
        boxes = [i for i in form["inputs"] if i.get("type") == "checkbox" and i.get("name") == "server"]
        checked = [b.get("value") for b in boxes if "checked" in b]
        expect(
            checked == [self.server_id],
            f"the consent form should offer server {self.server_id}, checked and alone checked; checked: {checked}",
        )
        lifetime = form["selects"].get("lifetime", {}).get("selected")
        expect(bool(lifetime), f"the consent form's lifetime select has no selected option: {form['selects']}")
        decisions = {b.get("value") for b in form["buttons"] if b.get("name") == "decision"}
        expect({"allow", "deny"} <= decisions, f"the consent form's decision buttons are {decisions}")
        emit("consent_page", request=hidden["request"], lifetime=lifetime, scope_requested=params.get("scope"))

        # What the browser posts when the owner presses Allow (same-origin, as the dashboard requires).
        fields = [
            ("request", hidden["request"]),
            ("csrf", hidden["csrf"]),
            ("server", self.server_id),
            ("lifetime", lifetime),
            ("decision", "allow"),
        ]
        answered = await self.http.post(
            "/oauth/authorize",
            content=urllib.parse.urlencode(fields),
            headers={"content-type": "application/x-www-form-urlencoded", "origin": self.base, "sec-fetch-site": "same-origin"},
        )
        expect(answered.status_code == 200, f"POST /oauth/authorize (allow) answered {answered.status_code}: {answered.text[:800]}")
        reader = FormReader()
        reader.feed(answered.text)
        expect(reader.continue_href is not None, f"the answer page has no #continue link:\n{answered.text[:1500]}")
        href = html.unescape(reader.continue_href or "")
        back = urllib.parse.urlsplit(href)
        expect(
            f"{back.scheme}://{back.netloc}{back.path}" == self.redirect_uri,
            f"the answer sends the browser to {href}, not to the redirect URI {self.redirect_uri}",
        )
        query = dict(urllib.parse.parse_qsl(back.query))
        expect("error" not in query, f"the answer is an error: {query}")
        expect(bool(query.get("code")), f"the answer carries no code: {href}")
        expect(query.get("state") == params.get("state"), f"state came back as {query.get('state')!r}, sent {params.get('state')!r}")
        expect(query.get("iss") == self.base, f"iss is {query.get('iss')!r}, the issuer is {self.base!r} (RFC 9207)")
        self.answer = AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))

    async def callback_handler(self) -> AuthorizationCodeResult:
        """The SDK's callback_handler: what the app's redirect URI received."""
        expect(self.answer is not None, "the callback was awaited before the redirect handler answered")
        answer, self.answer = self.answer, None
        return answer  # type: ignore[return-value]


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


async def run(args: argparse.Namespace) -> None:
    base = args.base.rstrip("/")
    redirect_uri = "http://127.0.0.1:33418/callback"
    owner = Owner(base, args.server_id, redirect_uri)
    await owner.sign_in(args.email, args.password)

    storage = Storage()
    provider = OAuthClientProvider(
        server_url=args.mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name=args.client_name,
            redirect_uris=[redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=owner.redirect_handler,
        callback_handler=owner.callback_handler,
    )
    global RECORDER
    recorder = RECORDER = RecordingTransport()
    http = httpx2.AsyncClient(auth=provider, transport=recorder, timeout=httpx2.Timeout(20, read=60))

    def token_requests(grant: str) -> list[Exchange]:
        return recorder.find(lambda e: e.method == "POST" and e.path == "/oauth/token" and e.form().get("grant_type") == grant)

    def mcp_posts(method: str) -> list[Exchange]:
        return recorder.find(lambda e: e.method == "POST" and e.path == urllib.parse.urlsplit(args.mcp_url).path and e.jsonrpc().get("method") == method)

    async with http, streamable_http_client(args.mcp_url, http_client=http) as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            # 1. Sign-in, as the SDK drives it from the endpoint's first 401.
            init = await session.initialize()
            flow = [e.summary() for e in recorder.exchanges]
            emit("initialized", server=init.server_info.name, protocol=init.protocol_version, requests=flow)
            expect(owner.consents == 1, f"the owner was asked {owner.consents} times, once expected")
            first = recorder.exchanges[0]
            expect(first.status == 401, f"the first MCP request (no token) answered {first.status}, 401 expected")
            registrations = recorder.find(lambda e: e.path == "/oauth/register")
            expect(
                [e.status for e in registrations] == [201],
                f"dynamic client registration: {[e.summary() for e in registrations]} (one 201 expected)",
            )
            codes = token_requests("authorization_code")
            expect([e.status for e in codes] == [200], f"code exchange: {[e.summary() for e in codes]} (one 200 expected)")
            expect(codes[0].form().get("resource") == args.mcp_url, f"the code exchange's resource is {codes[0].form().get('resource')!r}")
            client = storage.client_info
            tokens = storage.tokens
            expect(client is not None and tokens is not None, "the SDK stored no client or no tokens")
            assert client is not None and tokens is not None
            expect(bool(tokens.refresh_token), f"the token response has no refresh_token: {tokens}")
            expect(isinstance(tokens.expires_in, int) and tokens.expires_in > 0, f"expires_in is {tokens.expires_in!r}")
            claims = jwt_claims(tokens.access_token)
            token_id = claims.get("jti")
            emit(
                "authorized",
                client_id=client.client_id,
                client_name=client.client_name,
                token_endpoint_auth_method=client.token_endpoint_auth_method,
                has_client_secret=client.client_secret is not None,
                token_id=token_id,
                expires_in=tokens.expires_in,
                scope=tokens.scope,
                aud=claims.get("aud"),
            )

            # 2. Tools through the gateway, with the access token.
            listed = await session.list_tools()
            names = sorted(t.name for t in listed.tools)
            expect("echo" in names, f"tools/list gave {names}, without echo")
            said = await session.call_tool("echo", {"text": "hello through the gateway"})
            expect(not said.is_error and text_of(said) == "hello through the gateway", f"echo answered {said}")
            emit("tools", names=names, echo=text_of(said))

            # 3. The access token's lifetime passes (for the SDK): its next request refreshes first.
            before = storage.tokens
            CLOCK.offset = before.expires_in + 1  # type: ignore[operator]
            said = await session.call_tool("echo", {"text": "after the refresh"})
            expect(CLOCK.offset == 0, "the SDK did not store new tokens after its clock passed the expiry")
            refreshes = token_requests("refresh_token")
            expect([e.status for e in refreshes] == [200], f"refresh: {[e.summary() for e in refreshes]} (one 200 expected)")
            sent = refreshes[0].form()
            expect(sent.get("refresh_token") == before.refresh_token, "the SDK's refresh did not present the refresh token it was given")
            after = storage.tokens
            assert after is not None
            # (The access token itself may come back the same: a JWT with the same claims, when the
            # refresh is in the same second as the code exchange.)
            expect(bool(after.refresh_token) and after.refresh_token != before.refresh_token, "the refresh token was not rotated")
            expect(jwt_claims(after.access_token).get("jti") == token_id, "the refreshed access token belongs to another grant")
            echo_posts = [e for e in mcp_posts("tools/call") if "after the refresh" in e.body]
            expect(
                [e.authorization for e in echo_posts] == [f"Bearer {after.access_token}"],
                "the call after the refresh was not sent (once) with the new access token",
            )
            expect(not said.is_error and text_of(said) == "after the refresh", f"echo after the refresh answered {said}")
            emit(
                "refreshed",
                sent={k: v for k, v in sent.items() if k not in ("refresh_token", "client_secret")},
                basic_auth=refreshes[0].authorization.lower().startswith("basic "),
                echo=text_of(said),
            )

            # 4. A long call stays open; the test revokes the grant in the browser meanwhile.
            owner.refusing = True
            outcome: dict[str, Any] = {}

            async def long_call() -> None:
                try:
                    outcome["result"] = await session.call_tool("ticker", {"ticks": TICKS}, read_timeout_seconds=40)
                except Exception as e:
                    outcome["error"] = f"{type(e).__name__}: {e}"
                outcome["at"] = now_ms()

            async with anyio.create_task_group() as tg:
                tg.start_soon(long_call)
                with anyio.fail_after(10):
                    while not (posts := [e for e in mcp_posts("tools/call") if '"ticker"' in e.body and e.headers_at]):
                        await recorder.changed.wait()
                ticker = posts[0]
                expect(
                    ticker.status == 200 and ticker.content_type.startswith("text/event-stream"),
                    f"the ticker call answered {ticker.status} {ticker.content_type!r}, an open event stream expected",
                )
                emit("ready_for_revoke", token_id=token_id)
                with anyio.move_on_after(STREAM_END_SECONDS):
                    await ticker.ended.wait()
                expect(
                    ticker.ended.is_set(),
                    f"the ticker stream was still open {STREAM_END_SECONDS} s after the call started: revoking did not end it",
                )
                emit("stream_ended", at=ticker.ended_at, how=ticker.ended_how, outcome_so_far=outcome.get("error"))
                with anyio.move_on_after(15) as waited:
                    while "at" not in outcome:
                        await anyio.sleep(0.02)
                if waited.cancelled_caught:
                    tg.cancel_scope.cancel()
            expect("at" in outcome, "call_tool(ticker) neither answered nor failed within 15 s of its stream ending")
            expect("result" not in outcome, f"the ticker call answered after the revocation: {outcome.get('result')}")
            emit("call_ended", at=outcome["at"], error=outcome["error"], reauthorizations_refused=len(owner.refused))

            # 5. The grant is gone: its access token and its (latest) refresh token are refused.
            latest = storage.tokens
            assert latest is not None
            async with httpx2.AsyncClient(timeout=15) as plain:
                probe = await plain.post(
                    args.mcp_url,
                    json={"jsonrpc": "2.0", "id": 99, "method": "tools/list"},
                    headers={
                        "authorization": f"Bearer {latest.access_token}",
                        "accept": "application/json, text/event-stream",
                        "mcp-protocol-version": init.protocol_version,
                    },
                )
                expect(probe.status_code == 401, f"the revoked access token got {probe.status_code} from the gateway, 401 expected")
                data = {
                    "grant_type": "refresh_token",
                    "refresh_token": latest.refresh_token or "",
                    "client_id": client.client_id,
                    "resource": args.mcp_url,
                }
                # Authenticated as the SDK authenticates this client (its registered method).
                data, headers = provider.context.prepare_token_auth(data, {"content-type": "application/x-www-form-urlencoded"})
                refused = await plain.post(f"{base}/oauth/token", data=data, headers=headers)
                try:
                    body = refused.json()
                except ValueError:
                    body = {"raw": refused.text[:500]}
                emit("refresh_after_revoke", status=refused.status_code, body=body, www_authenticate=probe.headers.get("www-authenticate"))
                expect(
                    refused.status_code == 400 and body.get("error") == "invalid_grant",
                    f"refreshing the revoked grant answered {refused.status_code} {body}; 400 invalid_grant expected (RFC 6749 §5.2)",
                )
    await owner.http.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("--base", "--mcp-url", "--server-id", "--email", "--password", "--client-name"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def bounded() -> None:
        with anyio.fail_after(OVERALL_SECONDS):
            await run(args)

    try:
        anyio.run(bounded)
    except BaseException as e:  # noqa: BLE001 - every way out is reported as one line
        failure = e
        while isinstance(failure, BaseExceptionGroup) and len(failure.exceptions) == 1:
            failure = failure.exceptions[0]
        if isinstance(failure, Failed):
            message = str(failure)
        elif isinstance(failure, TimeoutError):
            message = f"the script did not finish within {OVERALL_SECONDS} s"
        else:
            import traceback

            traceback.print_exception(e, file=sys.stderr)
            message = f"{type(failure).__name__}: {failure}"
        emit("failed", message=message, requests=[e.summary() for e in (RECORDER.exchanges if RECORDER else [])])
        return 1
    emit("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
