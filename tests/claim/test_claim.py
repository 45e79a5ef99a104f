"""Issue 16, item 5: `sla-probe claim` writes the letter as Markdown and PDF, holding the
clauses, the uptime per objective and the contract total, the credit, the incidents with
their first error (redacted), the claim conditions as a checklist, the deadline and the
SHA-256 of the evidence pack's manifest. The PDF's page 1 is rendered to PNG."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from probe.cli import main as cli
from tests.report.outage import SECRET, build

pytest.importorskip("weasyprint")
pdfium = pytest.importorskip("pypdfium2")


@pytest.fixture(scope="module")
def claimed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("claim")
    _, path = build(tmp)
    out = tmp / "out"
    assert cli(["ticket", "open", "-c", str(path), "--contract", "dfns", "--reference",
                "CS-7", "--severity", "Show Stopper", "--channel", "phone", "--at",
                "2026-10-20T05:03:00Z"]) == 0
    assert cli(["claim", "-c", str(path), "--contract", "dfns", "--month", "2026-10",
                "--out", str(out)]) == 0
    return out


def test_markdown_holds_every_part(claimed: Path) -> None:
    text = (claimed / "claim-dfns-2026-10.md").read_text()
    manifest = next(claimed.glob("evidence-pack-*")) / "manifest.json"
    for fact in (
        "§1 Target Availability (Cloud Service); §4 Service Credits: target 99.9 %",
        "§4 Service Credits for any month will not exceed seven percent (7%)",
        "| dfns-cloud-service | 99.9 % |",
        "Contract total:",
        "2026-10-20T05:00:00.250Z list-wallets (dfns-api) http_status: HTTP 503",
        "vantage office-nyc",
        "- [ ] Send a written request within 30 days after the end of the month (§4",
        "- [ ] The account is fully paid up",
        "Claim deadline: ",
        hashlib.sha256(manifest.read_bytes()).hexdigest(),
        "ticket CS-7 (Show Stopper, phone)",
    ):
        assert fact in text, fact
    assert SECRET not in text


def test_pdf_renders_page_one(claimed: Path) -> None:
    pdf_path = claimed / "claim-dfns-2026-10.pdf"
    data = pdf_path.read_bytes()
    assert data.startswith(b"%PDF-")
    doc = pdfium.PdfDocument(data)
    try:
        page = doc[0]
        text = page.get_textpage().get_text_range()
        image = page.render(scale=1.5).to_pil()
    finally:
        doc.close()
    image.save(claimed / "page1.png")
    assert "Service credit claim" in text
    assert SECRET not in text
    # not blank: a real page has many distinct grey levels where the text is
    assert sum(1 for n in image.convert("L").histogram() if n) > 10
    assert image.size[0] < image.size[1]  # A4 portrait


def test_unknown_contract_is_refused(tmp_path: Path) -> None:
    _, path = build(tmp_path)
    assert cli(["claim", "-c", str(path), "--contract", "nope", "--month", "2026-10",
                "--out", str(tmp_path / "o")]) == 2
