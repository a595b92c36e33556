"""Every management command in the README and DESIGN.md 6.3, run as a user runs it: through
`call_command` (and one subprocess), on a fresh organisation made with `create_org`, with
django-scopes enabled in the test body. A command of ours that this file does not run fails
`test_every_command_of_ours_is_run_here`."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command, get_commands, load_command_class

from chargeback.tenancy.scoping import OrgCommand

# The commands this file runs; `test_every_command_of_ours_is_run_here` keeps it complete.
COVERED = {
    "create_org",
    "seed_demo",
    "import_config",
    "export_config",
    "import_prices",
    "export_prices",
    "ingest_events",
    "spend",
    "reprice",
    "close_period",
    "statements",
    "budgets",
    "check_budgets",
    "wallets",
    "wallet_post",
    "wallet_transfer",
    "disputes",
    "finalize_statements",
    "import_invoice",
    "reconcile",
    "readiness",
    "export_events",
    "audit_sample",
}

MONTH = "2026-10"

PRICES_CSV = (
    "provider,model,effective_from,input_per_1m,output_per_1m,cached_input_per_1m,"
    "cache_write_per_1m,batch_input_per_1m,batch_output_per_1m,per_request,currency,source,"
    "source_date\n"
    "acme-ai,acme-large,2026-09-01,2.00,8.00,0.50,,,,,USD,https://acme.example/prices,2026-09-01\n"
)

CONFIG_YAML = """\
units:
  - {code: SUP, name: Support, parent: null, owner: ana@t1.example, billing_mode: chargeback}
  - {code: RES, name: Research, parent: null, owner: raj@t1.example, billing_mode: showback}
services:
  - {name: ticket-summarizer, unit: SUP}
gateway_keys:
  - key_id: gk-support-prod
    unit: SUP
    service: ticket-summarizer
    environment: production
    owner: ana@t1.example
provider_accounts:
  - {provider: acme-ai, account: proj_research, unit: RES}
ownership_rules:
  - {match: {service: ticket-summarizer}, unit: SUP}
required_tags: [team]
"""


def _event(n: int, **extra: object) -> dict:
    event = {
        "request_id": f"req-{n}",
        "occurred_at": f"{MONTH}-{10 + n % 10:02d}T10:00:00Z",
        "provider": "acme-ai",
        "model": "acme-large",
        "input_tokens": 1_000_000,
        "output_tokens": 100_000,
        "gateway_key_id": "gk-support-prod",
        "tags": {"team": "SUP"},
    }
    event.update(extra)
    return event


# One file per format, each with records that are attributed and priced.
OTLP = {
    "resourceSpans": [
        {
            "resource": {
                "attributes": [
                    {"key": "service.name", "value": {"stringValue": "ticket-summarizer"}}
                ]
            },
            "scopeSpans": [
                {
                    "spans": [
                        {
                            "spanId": "00000000000000a1",
                            "name": "chat acme-large",
                            "startTimeUnixNano": "1791968400000000000",
                            "attributes": [
                                {"key": "gen_ai.system", "value": {"stringValue": "acme-ai"}},
                                {
                                    "key": "gen_ai.request.model",
                                    "value": {"stringValue": "acme-large"},
                                },
                                {
                                    "key": "gen_ai.response.id",
                                    "value": {"stringValue": "otel-resp-1"},
                                },
                                {
                                    "key": "gen_ai.usage.input_tokens",
                                    "value": {"intValue": "1000"},
                                },
                                {
                                    "key": "gen_ai.usage.output_tokens",
                                    "value": {"intValue": "100"},
                                },
                            ],
                        }
                    ]
                }
            ],
        }
    ]
}
LITELLM = [
    {
        "request_id": "litellm-1",
        "call_type": "acompletion",
        "spend": 0.0028,
        "prompt_tokens": 1000,
        "completion_tokens": 100,
        "startTime": f"{MONTH}-12T09:00:00.000000",
        "model": "acme-large",
        "custom_llm_provider": "acme-ai",
        "status": "success",
        "metadata": {"user_api_key_alias": "gk-support-prod", "user_api_key_team_alias": "SUP"},
    }
]
CSV_EVENTS = (
    "request_id,occurred_at,provider,model,input_tokens,output_tokens,gateway_key_id,team\n"
    f"csv-1,{MONTH}-13T10:00:00Z,acme-ai,acme-large,1000,100,gk-support-prod,SUP\n"
    f"csv-2,{MONTH}-13T11:00:00Z,acme-ai,acme-large,2000,200,gk-support-prod,SUP\n"
)
FILES = {
    "ndjson": "\n".join(json.dumps(_event(n)) for n in range(3)) + "\n",
    "json": json.dumps(
        [_event(10), _event(11, provider_account="proj_research", gateway_key_id=None, tags={})]
    ),
    "csv": CSV_EVENTS,
    "otel": json.dumps(OTLP),
    "litellm": json.dumps(LITELLM),
}
ACCEPTED = {"ndjson": 3, "json": 2, "csv": 2, "otel": 1, "litellm": 1}


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def fresh_org(db, tmp_path):
    run(
        "create_org", "--slug", "t1", "--name", "T One", "--currency", "USD",
        "--timezone", "Europe/Berlin", "--admin-email", "admin@t1.example",
    )  # fmt: skip
    return "t1"


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_user_runs_every_documented_command_on_a_fresh_org(fresh_org, tmp_path):
    # Prices: import a file, then export the book in both formats.
    out = run(
        "import_prices", "--org", "t1", write(tmp_path, "p.csv", PRICES_CSV), "--format", "csv"
    )
    assert out.strip().splitlines()[-1].startswith("price version ")
    exported = run("export_prices", "--org", "t1")
    assert "acme-ai,acme-large,2026-09-01,2,8,0.5,,,,,USD" in exported
    as_json = json.loads(run("export_prices", "--org", "t1", "--format", "json"))
    assert any(p["model"] == "acme-large" for p in as_json["prices"])

    # Configuration: apply, export, and applying the export changes nothing.
    out = run("import_config", "--org", "t1", write(tmp_path, "org.yaml", CONFIG_YAML))
    assert out.strip().splitlines()[-1].startswith("applied ")
    exported_path = tmp_path / "export.yaml"
    run("export_config", "--org", "t1", "--output", str(exported_path))
    assert "gk-support-prod" in exported_path.read_text()
    assert run("import_config", "--org", "t1", str(exported_path)).strip() == "no changes"

    # Usage: one file in each format, through the pipeline; the last line is the counts.
    for fmt, text in FILES.items():
        path = write(tmp_path, f"events-{fmt}.data", text)
        last = run("ingest_events", "--org", "t1", path, "--format", fmt).strip().splitlines()[-1]
        received = ACCEPTED[fmt]
        assert last.endswith(
            f": received={received} accepted={received} duplicates=0 quarantined=0"
        ), (fmt, last)
        assert last.startswith("batch ")
        # The same file audited before onboarding: nothing ingested, the same count accepted.
        report = json.loads(run("audit_sample", "--org", "t1", path, "--format", fmt, "--json"))
        assert (report["accepted"], report["quarantined"]) == (received, 0), fmt

    # Spend in every format: Support has the gateway traffic, Research the provider account's.
    report = json.loads(run("spend", "--org", "t1", "--period", MONTH, "--format", "json"))
    by_code = {u["code"]: u for u in report["units"]}
    # (The OTel span names its service on the resource only: its service.name attributes it.)
    assert "CENTRAL" not in by_code
    assert by_code["SUP"]["requests"] == 8 and by_code["RES"]["requests"] == 1
    assert report["total"]["requests"] == 9
    assert sum(Decimal(u["cost"]) for u in report["units"]) == Decimal(report["total"]["cost"])
    assert "SUP" in run("spend", "--org", "t1", "--period", MONTH)
    assert run("spend", "--org", "t1", "--period", MONTH, "--format", "csv").startswith("code,")

    # A new price for the month, then re-price it: the difference is recorded.
    newer = PRICES_CSV.replace("2026-09-01,2.00", "2026-10-01,3.00")
    run("import_prices", "--org", "t1", write(tmp_path, "p2.csv", newer))
    dry = run("reprice", "--org", "t1", "--from", f"{MONTH}-01", "--to", f"{MONTH}-31", "--dry-run")
    assert "would change" in dry
    done = run(
        "reprice", "--org", "t1", "--from", f"{MONTH}-01", "--to", f"{MONTH}-31",
        "--note", "October price correction",
    )  # fmt: skip
    assert "events examined" in done and " 9 changed" in done

    # Close the month, issue, and list the statements.
    out = run("close_period", "--org", "t1", "--period", MONTH)
    assert "drafts only" in out
    out = run("close_period", "--org", "t1", "--period", MONTH, "--issue")
    assert "issued; period" in out
    listed = json.loads(run("statements", "--org", "t1", "--period", MONTH, "--format", "json"))
    statements = {s["unit"]: s for s in listed["statements"]}
    assert statements["SUP"]["status"] == "issued" and statements["SUP"]["mode"] == "chargeback"
    for s in listed["statements"]:
        assert sum(Decimal(line["amount"]) for line in s["lines"]) == Decimal(s["total"])
    assert "statement(s), total" in run("statements", "--org", "t1", "--period", MONTH)
    deadline = statements["SUP"]["dispute_deadline"]
    assert deadline and deadline > dt.date.today().isoformat()

    # Disputes: the admin opens one on Support's behalf, lists it, resolves it; nothing is
    # final yet, since the review window has not passed.
    sup = statements["SUP"]
    out = run(
        "disputes", "--org", "t1", "open", "--statement", sup["number"], "--amount", "1.00",
        "--reason", "pricing", "--by", "admin@t1.example", "--text", "October price was wrong",
    )  # fmt: skip
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"dispute \d+: open, respond by \d{4}-\d{2}-\d{2}", last), last
    dispute_id = last.split()[1].rstrip(":")
    listed = json.loads(
        run("disputes", "--org", "t1", "list", "--period", MONTH, "--format", "json")
    )
    assert [(d["statement"], d["unit"], d["state"], d["amount"]) for d in listed["disputes"]] == [
        (sup["number"], "SUP", "open", "1.00")
    ]
    assert sup["number"] in run("disputes", "--org", "t1", "list")
    out = run(
        "disputes", "--org", "t1", "resolve", dispute_id, "--outcome", "partially_accepted",
        "--amount", "0.40", "--by", "admin@t1.example", "--text", "The price changed on the 5th",
    )  # fmt: skip
    assert out.strip() == f"dispute {dispute_id}: partially_accepted, credited 0.40"
    listed = json.loads(run("disputes", "--org", "t1", "list", "--format", "json"))
    assert listed["disputes"][0]["credited"] == "0.40"
    assert run("finalize_statements", "--org", "t1").strip() == "no statement to finalize"

    # Budgets from the configuration file, then the budget commands on the month's usage.
    budgets_yaml = 'budgets:\n  - {unit: SUP, monthly: "1.00", thresholds: [50, 80, 100]}\n'
    run("import_config", "--org", "t1", write(tmp_path, "budgets.yaml", budgets_yaml))
    report = json.loads(run("budgets", "--org", "t1", "--period", MONTH, "--format", "json"))
    assert [b["unit"] for b in report["budgets"]] == ["SUP"] and report["period"] == MONTH
    assert Decimal(report["budgets"][0]["spend"]) > 1
    checked = run("check_budgets", "--org", "t1").strip().splitlines()
    # (the check looks at the current month, whose usage depends on the day the test runs)
    assert checked == ["no new alerts"] or all(line.startswith("alert SUP ") for line in checked)
    assert "SUP" in run("budgets", "--org", "t1")
    # Wallets: fund the central pool (the wallet opens on its first funding), move money to
    # Support, and list them; the same key posts once.
    post = ["wallet_post", "--org", "t1", "--wallet", "central", "--kind", "central",
            "--type", "funding", "--amount", "1000.00", "--reason", "Q4 pool", "--key", "q4"]  # fmt: skip
    last = run(*post).strip().splitlines()[-1]
    assert last.startswith("entry ") and last.endswith(": central balance=1000.00")
    assert run(*post).strip().splitlines()[-1] == last
    run("wallet_post", "--org", "t1", "--wallet", "SUP", "--type", "top_up", "--amount", "5",
        "--reason", "open the wallet")  # fmt: skip
    out = run("wallet_transfer", "--org", "t1", "--from", "central", "--to", "SUP",
              "--to-kind", "team", "--amount", "250.00", "--reason", "Support's share")  # fmt: skip
    assert out.strip().endswith("central balance=750.00, SUP balance=255.00")
    wallets = json.loads(run("wallets", "--org", "t1", "--format", "json"))
    assert [(w["unit"], w["balance"], w["available"]) for w in wallets["wallets"]] == [
        ("central", "750.00", "750.00"),
        ("SUP", "255.00", "255.00"),
    ]
    assert "central" in run("wallets", "--org", "t1")

    # Reconciliation: the provider's invoice for the month, then the month reconciled; the
    # causes and the unexplained rest sum to the variance.
    invoice = (
        "provider,model,token_class,quantity,amount,currency\nacme-ai,acme-large,input,1,5.00,USD\n"
    )
    out = run(
        "import_invoice", "--org", "t1", "--period", MONTH, write(tmp_path, "inv.csv", invoice)
    )
    assert out.strip().startswith("invoice ") and "acme-ai 2026-10 lines=1" in out
    rec = json.loads(run("reconcile", "--org", "t1", "--period", MONTH, "--format", "json"))
    assert rec["billed"] == "5.00" and rec["period"] == MONTH
    explained = sum(Decimal(c["amount"]) for c in rec["causes"]) + Decimal(rec["unexplained"])
    assert explained == Decimal(rec["variance"])
    assert "billed" in run("reconcile", "--org", "t1", "--period", MONTH)
    ready = json.loads(run("readiness", "--org", "t1", "--period", MONTH, "--format", "json"))
    assert {u["unit"] for u in ready["units"]} >= {"SUP", "RES"}
    assert all(set(u) >= {"unit", "spend", "attributable_share", "quarantined_cost",
                          "missing_tags_share", "named_owner", "ready", "fix_first"}
               for u in ready["units"])  # fmt: skip
    assert "SUP" in run("readiness", "--org", "t1", "--period", MONTH)

    # Exports: the events as CSV and NDJSON, and FOCUS 1.3 and 1.0.
    for fmt, first in (("csv", "request_id,"), ("ndjson", "{"), ("focus", "BilledCost,")):
        out_path = tmp_path / f"export.{fmt}"
        done = run("export_events", "--org", "t1", "--since", f"{MONTH}-01", "--format", fmt,
                   "--output", str(out_path))  # fmt: skip
        assert done.startswith("exported ") and out_path.read_text().startswith(first)
    run("export_events", "--org", "t1", "--since", "30d", "--format", "focus",
        "--focus-version", "1.0", "--output", str(tmp_path / "focus10.csv"))  # fmt: skip
    assert "ProviderName" in (tmp_path / "focus10.csv").read_text().splitlines()[0]


def test_seed_demo_runs_twice(db):
    first = run("seed_demo")
    assert "demo organisation acme" in first and "created" in first
    assert "already present" in run("seed_demo")
    # The month left open has the providers' invoices: its variance is explained to the cent.
    last = (dt.date.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    rec = json.loads(run("reconcile", "--org", "acme", "--period", last, "--format", "json"))
    explained = sum(Decimal(c["amount"]) for c in rec["causes"]) + Decimal(rec["unexplained"])
    assert explained == Decimal(rec["variance"])
    wallets = json.loads(run("wallets", "--org", "acme", "--format", "json"))["wallets"]
    # the central pool's month, less the agents lab's top-up
    assert wallets[0] == {"unit": "central", "kind": "central", "balance": "9000.00",
                          "reserved": "0.00", "available": "9000.00", "hard_limit": False}  # fmt: skip


ORG_ARGS = {
    "import_config": ["x.yaml"],
    "import_prices": ["x.csv"],
    "ingest_events": ["x.ndjson"],
    "reprice": ["--from", "2026-10-01", "--to", "2026-10-31", "--dry-run"],
    "close_period": ["--period", MONTH],
    "statements": ["--period", MONTH],
    "wallet_post": ["--wallet", "central", "--type", "funding", "--amount", "1", "--reason", "r"],
    "wallet_transfer": ["--from", "central", "--to", "X", "--amount", "1", "--reason", "r"],
    "disputes": ["list"],
    "import_invoice": ["--period", MONTH, "x.csv"],
    "reconcile": ["--period", MONTH],
    "readiness": ["--period", MONTH],
    "export_events": ["--since", "30d", "--output", "x.csv"],
    "audit_sample": ["x.ndjson"],
}


def _ours() -> dict[str, str]:
    return {name: app for name, app in get_commands().items() if app.startswith("chargeback.")}


def test_every_command_of_ours_is_run_here():
    ours = set(_ours())
    assert ours - COVERED == set(), "commands no test runs as a user would: add them here"
    assert COVERED - ours == set(), "commands listed here that no longer exist"


@pytest.mark.parametrize("name", sorted(COVERED - {"create_org", "seed_demo"}))
def test_every_org_command_enters_through_orgcommand_and_names_an_unknown_org(db, name):
    command = load_command_class(_ours()[name], name)
    assert isinstance(command, OrgCommand)
    with pytest.raises(CommandError, match=r'^unknown organization "nope"$'):
        run(name, "--org", "nope", *ORG_ARGS.get(name, []))


def test_the_price_commands_from_the_shell_on_a_fresh_database(tmp_path):
    """The report of issue 12, as a user typed it: a fresh database, `create_org`, then
    `import_prices` and `export_prices` (both crashed with a ScopeError); an unknown org is a
    one-line error with no traceback."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "CHARGEBACK_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shell.sqlite3'}",
    }

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    assert manage("migrate", "--noinput").returncode == 0
    created = manage("create_org", "--slug", "t1", "--name", "T One")
    assert created.returncode == 0, created.stderr
    imported = manage("import_prices", "--org", "t1", write(tmp_path, "prices.csv", PRICES_CSV),
                      "--format", "csv")  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip().splitlines()[-1].startswith("price version ")
    exported = manage("export_prices", "--org", "t1")
    assert exported.returncode == 0, exported.stderr
    assert "acme-ai,acme-large,2026-09-01" in exported.stdout
    unknown = manage("export_prices", "--org", "nope")
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines() == ['CommandError: unknown organization "nope"']
