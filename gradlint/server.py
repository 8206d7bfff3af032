"""`gradlint server`: a Language Server (pygls) over stdio.

Publishes diagnostics when a document is opened, changed or saved, and offers each fix
as a quick fix plus a "fix all" source action. Needs the `server` extra (pygls).
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional

from gradlint import __version__

DEBOUNCE_S = 0.25  # quiet time after a change before the document is linted again


def _settings_for(path: Optional[str]):
    from gradlint.config import ConfigError, Settings
    from gradlint.configfile import load_settings

    try:
        return load_settings(None, os.path.dirname(path) if path else "."), None
    except ConfigError as exc:
        return Settings(), str(exc)


def build_server():
    from lsprotocol import types as t
    from pygls.lsp.server import LanguageServer
    from pygls.uris import to_fs_path

    from gradlint.diagnostics import rule_url
    from gradlint.fixes import fix_source
    from gradlint.linter import lint_source

    server = LanguageServer("gradlint", __version__,
                            text_document_sync_kind=t.TextDocumentSyncKind.Full)
    last: Dict[str, List] = {}
    pending: Dict[str, object] = {}  # uri -> the timer of its next lint (didChange)

    def opened(uri: str):
        """The document if the client opened it: the server never reads a file itself (a
        FIFO would block it; a file outside the workspace is not its to show)."""
        return server.workspace.text_documents.get(uri)

    def lint(uri: str, text: str):
        path = to_fs_path(uri) or uri
        settings, error = _settings_for(path)
        if error:
            server.window_show_message(t.ShowMessageParams(t.MessageType.Error, error))
        if settings.is_excluded(path) and os.path.isabs(path) and path.startswith(
                os.path.abspath(settings.root)):
            return settings, []
        return settings, lint_source(text, path, settings)

    def to_range(doc, line, col, end_line, end_col) -> "t.Range":
        # gradlint counts code points from 1; the client may count UTF-16 units from 0
        return doc.range_to_client_units(t.Range(t.Position(line - 1, col - 1),
                                                 t.Position(end_line - 1, end_col - 1)))

    def publish(uri: str) -> None:
        pending.pop(uri, None)
        doc = opened(uri)
        if doc is None:
            return
        _, found = lint(uri, doc.source)
        last[uri] = found
        items = []
        for d in found:
            related = [t.DiagnosticRelatedInformation(
                t.Location(uri, to_range(doc, r.line, r.column, r.line, r.column)), r.message)
                for r in d.related]
            items.append(t.Diagnostic(
                range=to_range(doc, d.line, d.column, d.end_line, d.end_column),
                message=f"{d.message}\n{d.help}" if d.help else d.message, severity=t.DiagnosticSeverity.Warning, code=d.code,
                source="gradlint", related_information=related or None,
                code_description=(t.CodeDescription(href=rule_url(d.code))
                                  if rule_url(d.code) else None),
                data={"name": d.name}))
        server.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri, items, doc.version))

    @server.feature(t.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: t.DidOpenTextDocumentParams) -> None:
        publish(params.text_document.uri)

    @server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: t.DidChangeTextDocumentParams) -> None:
        # typing sends a change per key: lint once the edits pause, the latest text only
        import asyncio

        uri = params.text_document.uri
        timer = pending.pop(uri, None)
        if timer is not None:
            timer.cancel()
        pending[uri] = asyncio.get_running_loop().call_later(DEBOUNCE_S, publish, uri)

    @server.feature(t.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: t.DidSaveTextDocumentParams) -> None:
        publish(params.text_document.uri)

    @server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: t.DidCloseTextDocumentParams) -> None:
        last.pop(params.text_document.uri, None)
        timer = pending.pop(params.text_document.uri, None)
        if timer is not None:
            timer.cancel()
        server.text_document_publish_diagnostics(t.PublishDiagnosticsParams(params.text_document.uri, []))

    @server.feature(t.TEXT_DOCUMENT_CODE_ACTION, t.CodeActionOptions(
        code_action_kinds=[t.CodeActionKind.QuickFix, t.CodeActionKind.SourceFixAll]))
    def code_action(params: t.CodeActionParams):
        uri = params.text_document.uri
        doc = opened(uri)
        if doc is None:
            return []
        settings, found = lint(uri, doc.source)
        actions = []
        want = params.context.only
        if not want or t.CodeActionKind.QuickFix in want:
            first, last_line = params.range.start.line + 1, params.range.end.line + 1
            for d in found:
                if d.fix is None or d.end_line < first or d.line > last_line:
                    continue
                edits = [t.TextEdit(to_range(doc, e.line, e.column, e.end_line, e.end_column),
                                    e.content) for e in d.fix.edits]
                title = f"{d.fix.message} ({d.code}{', unsafe' if d.fix.applicability == 'unsafe' else ''})"
                actions.append(t.CodeAction(
                    title=title, kind=t.CodeActionKind.QuickFix,
                    is_preferred=d.fix.applicability == "safe",
                    edit=t.WorkspaceEdit(changes={uri: edits})))
        if not want or any(k.startswith(t.CodeActionKind.SourceFixAll) for k in want) or \
                t.CodeActionKind.Source in (want or []):
            path = to_fs_path(uri) or uri
            outcome = fix_source(doc.source, lambda text: lint_source(text, path, settings),
                                 unsafe=settings.unsafe_fixes)
            if outcome.source != doc.source and outcome.error is None:
                end = doc.client_position_at_offset(len(doc.source)) if hasattr(
                    doc, "client_position_at_offset") else t.Position(len(doc.lines), 0)
                whole = t.Range(t.Position(0, 0), end)
                actions.append(t.CodeAction(
                    title=f"gradlint: fix all ({outcome.fixed})",
                    kind=t.CodeActionKind.SourceFixAll + ".gradlint",
                    edit=t.WorkspaceEdit(changes={uri: [t.TextEdit(whole, outcome.source)]})))
        return actions

    return server


def main() -> None:
    import sys

    from gradlint.lsp_transport import serve

    sys.stdout.flush()
    serve(build_server(), sys.stdin.fileno(), sys.stdout.fileno())
