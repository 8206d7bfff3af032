"""The Language Server, driven over stdio by pygls's own LSP client."""

import asyncio
import sys

import pytest

from conftest import FIXTURES

pytest.importorskip("pygls")
from lsprotocol import types as t  # noqa: E402
from pygls.lsp.client import LanguageClient  # noqa: E402

BUG = (FIXTURES / "gl001" / "flagged_zero_grad_before_loop.py").read_text()
FIXED = (FIXTURES / "gl001" / "flagged_zero_grad_before_loop.fixed.py").read_text()


def _apply(text, edits):
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        a = offsets[edit.range.start.line] + edit.range.start.character
        b = offsets[edit.range.end.line] + edit.range.end.character if edit.range.end.line < len(offsets) else len(text)
        text = text[:a] + edit.new_text + text[b:]
    return text


async def start_client(folder):
    """`gradlint server` started in `folder`, initialised: (client, the queue of what it
    publishes)."""
    client = LanguageClient("gradlint-test", "1")
    published = asyncio.Queue()

    @client.feature(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params):
        published.put_nowait(params)

    await client.start_io(sys.executable, "-m", "gradlint", "server", cwd=str(folder))
    await client.initialize_async(t.InitializeParams(
        capabilities=t.ClientCapabilities(), root_uri=folder.as_uri()))
    client.initialized(t.InitializedParams())
    return client, published


async def _session(tmp_path):
    client, published = await start_client(tmp_path)
    uri = (tmp_path / "train.py").as_uri()
    try:
        client.text_document_did_open(t.DidOpenTextDocumentParams(
            t.TextDocumentItem(uri=uri, language_id="python", version=1, text=BUG)))
        first = await asyncio.wait_for(published.get(), 60)
        actions = await client.text_document_code_action_async(t.CodeActionParams(
            text_document=t.TextDocumentIdentifier(uri),
            range=first.diagnostics[0].range,
            context=t.CodeActionContext(diagnostics=first.diagnostics)))
        client.text_document_did_change(t.DidChangeTextDocumentParams(
            t.VersionedTextDocumentIdentifier(uri=uri, version=2),
            [t.TextDocumentContentChangeWholeDocument(text=FIXED)]))
        second = await asyncio.wait_for(published.get(), 60)
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()
    return uri, first, actions, second


def test_server_publishes_diagnostics_and_offers_fixes(tmp_path):
    uri, first, actions, second = asyncio.run(_session(tmp_path))
    assert first.uri == uri
    [diag] = first.diagnostics
    assert (diag.code, diag.source) == ("GL001", "gradlint")
    assert diag.range.start == t.Position(13, 4)  # line 14, column 5, counted from 0
    assert diag.related_information and diag.related_information[0].message == "the loop starts here"
    quick = [a for a in actions if a.kind == t.CodeActionKind.QuickFix]
    fix_all = [a for a in actions if a.kind.startswith(t.CodeActionKind.SourceFixAll)]
    assert len(quick) == 1 and quick[0].is_preferred
    assert _apply(BUG, quick[0].edit.changes[uri]) == FIXED
    assert len(fix_all) == 1 and _apply(BUG, fix_all[0].edit.changes[uri]) == FIXED
    assert list(second.diagnostics) == []
