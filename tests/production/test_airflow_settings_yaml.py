"""``airflow_settings.yaml`` loaded into a real metadata database satisfies everything the DAG names.

The file is parsed here (PyYAML) and imported through Airflow's own CLI (``connections``/``variables``/
``pools import``) into a dedicated PostgreSQL database; then the DAG's names are checked against what
Airflow exported back, and the DAG's templates are rendered by ``airflow tasks render`` from that database.
"""

from __future__ import annotations

import importlib
import json
import re

import pytest
import yaml

from tests.helpers import ROOT, free_port
from tests.production.conftest import wall_time
from tests.production.stack import DAG_ID, AirflowStack

SETTINGS = ROOT / "airflow_settings.yaml"
DAGS = ROOT / "dags"
VARIABLE_READ = re.compile(r"var\.value\.get\(\s*['\"]([A-Za-z0-9_]+)['\"]|var\.value\.([A-Za-z0-9_]+)")
ABFS_CONN = re.compile(r"abfs://([A-Za-z0-9_\-]+)@")


def astro_settings_as_import_files(settings: dict, folder) -> dict[str, str]:
    """The Astro CLI's ``airflow_settings.yaml`` sections as the JSON files ``airflow * import`` reads."""
    section = settings["airflow"]
    connections = {}
    for conn in section.get("connections") or []:
        fields = {
            "conn_type": conn.get("conn_type"),
            "host": conn.get("conn_host"),
            "schema": conn.get("conn_schema"),
            "login": conn.get("conn_login"),
            "password": conn.get("conn_password"),
            "port": conn.get("conn_port"),
            "extra_dejson": conn.get("conn_extra") or {},
        }
        connections[conn["conn_id"]] = {key: value for key, value in fields.items() if value not in (None, "")}
    variables = {var["variable_name"]: str(var["variable_value"]) for var in section.get("variables") or []}
    pools = {
        pool["pool_name"]: {"slots": pool["pool_slot"], "description": pool.get("pool_description") or ""}
        for pool in section.get("pools") or []
    }
    files = {}
    for name, document in (("connections", connections), ("variables", variables), ("pools", pools)):
        files[name] = str(folder / f"{name}.json")
        (folder / f"{name}.json").write_text(json.dumps(document, indent=2))
    return files


def names_the_dag_uses() -> tuple[set[str], set[str]]:
    """(Variables their templates read, pools their tasks use), from every DAG the dags folder defines."""
    from airflow.sdk import DAG

    variables, pools = set(), set()
    for path in sorted(DAGS.glob("*.py")):
        module = importlib.import_module(path.stem)
        for dag in {id(v): v for v in vars(module).values() if isinstance(v, DAG)}.values():
            for task in dag.tasks:
                pools.add(task.pool)
                for attr in task.template_fields:
                    value = getattr(task, attr)
                    text = value if isinstance(value, str) else json.dumps(value, default=str)
                    for match in VARIABLE_READ.finditer(text):
                        variables.add(match.group(1) or match.group(2))
    return variables, pools


def rendered_fields(text: str) -> dict[str, str]:
    """``airflow tasks render`` output as {template field: rendered value}."""
    fields, name = {}, None
    for line in text.splitlines():
        if line.startswith("# property: "):
            name = line.removeprefix("# property: ").strip()
            fields[name] = ""
        elif name and not line.startswith("# ---"):
            fields[name] = (fields[name] + "\n" + line).strip()
    return fields


@pytest.mark.timeout(300)
def test_airflow_settings_yaml(tmp_path, postgres_server):
    from call_logs.config import FALLBACKS, POOLS, VARIABLES

    with wall_time("4. airflow_settings.yaml into PostgreSQL"):
        text = SETTINGS.read_text()
        files = astro_settings_as_import_files(yaml.safe_load(text), tmp_path)
        stack = AirflowStack(tmp_path / "home", "LocalExecutor", free_port, postgres_server)
        try:
            stack.cli("db", "migrate")
            stack.cli("connections", "import", files["connections"])
            stack.cli("variables", "import", files["variables"])
            stack.cli("pools", "import", files["pools"])
            stack.cli("connections", "export", str(tmp_path / "conn-out.json"), "--file-format", "json")
            stack.cli("variables", "export", str(tmp_path / "var-out.json"))
            stack.cli("pools", "export", str(tmp_path / "pool-out.json"))
            connections = json.loads((tmp_path / "conn-out.json").read_text())
            # `variables export` JSON-decodes values ("4" comes back as 4): compare them as the text stored.
            variables = {
                k: v if isinstance(v, str) else json.dumps(v)
                for k, v in json.loads((tmp_path / "var-out.json").read_text()).items()
            }
            pools = json.loads((tmp_path / "pool-out.json").read_text())

            # The DAG's templates render from this database (Variables resolved by Airflow itself).
            stack.cli("dags", "reserialize")
            # A CLI process reads Variables from env and external backends only; as a "server" context it
            # also reads the metadata database (what a task gets through the Execution API).
            rendered = stack.cli(
                "tasks", "render", DAG_ID, "extract", "2026-11-02", env={"_AIRFLOW_PROCESS_CONTEXT": "server"}
            )
        except BaseException:
            print(stack.diagnosis(), flush=True)
            raise
        finally:
            stack.stop()

        read, used_pools = names_the_dag_uses()
        assert read, "the DAG's templates should read Variables"
        assert read <= set(VARIABLES), (
            f"templates read Variables that config.VARIABLES does not document: {read - set(VARIABLES)}"
        )
        missing = sorted(set(VARIABLES) - set(FALLBACKS) - set(variables))
        assert not missing, f"airflow_settings.yaml lacks Variables the DAG reads: {missing}"
        for name, (default, _meaning) in VARIABLES.items():
            if (
                name != "direct_routing_lake_root" and name not in FALLBACKS
            ):  # a deployment path; the default is the repo's ./lake
                assert variables[name] == default, (
                    f"{name}: settings {variables[name]!r} != documented default {default!r}"
                )

        assert set(POOLS) <= used_pools
        for pool in used_pools - {"default_pool"}:
            assert pool in pools, f"pool {pool} is not in airflow_settings.yaml"
            assert int(pools[pool]["slots"]) == 1, "one Graph pull at a time shares the per-collection budget"

        msgraph_conn_id = variables["direct_routing_msgraph_conn_id"]
        assert msgraph_conn_id in connections, f"connection {msgraph_conn_id} missing"
        assert connections[msgraph_conn_id]["conn_type"] == "msgraph"
        extra = json.loads(connections[msgraph_conn_id]["extra"])
        assert "tenant_id" in extra

        documented = set(ABFS_CONN.findall(text)) | set(ABFS_CONN.findall(variables["direct_routing_lake_root"]))
        assert documented, "airflow_settings.yaml should document the abfs:// lake root"
        for conn_id in documented:
            assert conn_id in connections, f"the documented lake root names connection {conn_id}, which is missing"
            assert connections[conn_id]["conn_type"] in ("wasb", "adls", "azure_data_lake")

        fields = rendered_fields(rendered)
        assert fields["lake_root"] == variables["direct_routing_lake_root"], rendered
        assert fields["msgraph_conn_id"] == msgraph_conn_id, rendered
        assert fields["api_version"] == variables["direct_routing_api_version"], rendered
        assert not any("{{" in value for value in fields.values()), rendered
