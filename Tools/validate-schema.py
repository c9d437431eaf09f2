#!/usr/bin/env python3
"""Validates documents against a published schema, as their consumers check them.

  validate-schema.py oci SCHEMA_DIR FILE [--fragment]
      FILE against the OCI runtime-spec's config-schema.json (draft-04, $refs to the files
      beside it). --fragment merges FILE into a minimal config first (NAME.oci.json is the part
      of a config.json that policyc owns).
  validate-schema.py crd CRD_DIR FILE
      every object of the YAML stream FILE whose kind a CRD in CRD_DIR defines, against the
      openAPIV3Schema of its apiVersion, with unknown fields rejected (what `kubectl apply
      --validate=strict` does; without it the API server would prune them silently).
  validate-schema.py json SCHEMA FILE
      the JSON document FILE against SCHEMA, in the draft SCHEMA declares (SARIF 2.1.0: draft-04).
  validate-schema.py jsonl SCHEMA FILE
      every line of the JSON Lines FILE against the JSON Schema (draft 2020-12) SCHEMA, with
      formats checked (policyc's audit records against Docs/audit-record.schema.json).

Prints one line per error (FILE: WHERE: WHY) and exits 1 when there is any.
"""
import json
import pathlib
import sys

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

MINIMAL_CONFIG = {"ociVersion": "1.0.2", "root": {"path": "rootfs"},
                  "process": {"cwd": "/", "args": ["/bin/sh"], "user": {"uid": 0, "gid": 0}}}


def merged(base, over):
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = merged(base[key], value) if key in base else value
        return out
    return over


def where(error):
    return "/".join(str(p) for p in error.absolute_path) or "(top)"


def oci_errors(schema_dir, document):
    directory = pathlib.Path(schema_dir).resolve()
    resources = [(p.as_uri(), Resource.from_contents(json.loads(p.read_text()), default_specification=DRAFT4))
                 for p in sorted(directory.glob("*.json"))]
    schema = json.loads((directory / "config-schema.json").read_text())
    schema["id"] = (directory / "config-schema.json").as_uri()
    validator = jsonschema.Draft4Validator(schema, registry=Registry().with_resources(resources))
    return [f"{where(e)}: {e.message}" for e in sorted(validator.iter_errors(document), key=where)]


def strict(schema):
    """Structural schemas as the API server reads them: a field no `properties` names is an
    error unless the schema keeps unknown fields."""
    if not isinstance(schema, dict):
        return schema
    out = {k: ([strict(x) for x in v] if isinstance(v, list) else strict(v) if isinstance(v, dict) and k != "properties" else v)
           for k, v in schema.items()}
    if "properties" in schema:
        out["properties"] = {k: strict(v) for k, v in schema["properties"].items()}
        if not schema.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in schema:
            out["additionalProperties"] = False
    return out


def crd_schemas(crd_dir):
    schemas = {}
    for path in sorted(pathlib.Path(crd_dir).glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schema = strict(version["schema"]["openAPIV3Schema"])
                # metadata is the API server's own ObjectMeta, not described by the CRD.
                schema.setdefault("properties", {})["metadata"] = {"type": "object"}
                schemas[(f"{group}/{version['name']}", kind)] = (schema, version.get("storage", False))
    return schemas


def crd_errors(crd_dir, text):
    schemas, errors = crd_schemas(crd_dir), []
    groups = {api.split("/")[0] for api, _ in schemas}
    for index, obj in enumerate(o for o in yaml.safe_load_all(text) if o):
        api, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        if api.split("/")[0] not in groups:
            continue
        if (api, kind) not in schemas:
            errors.append(f"object {index} ({kind}): no CRD serves {api} {kind}")
            continue
        schema, storage = schemas[(api, kind)]
        if not storage:
            errors.append(f"object {index} ({kind}): {api} is not the storage version")
        validator = jsonschema.Draft7Validator(schema)
        errors += [f"object {index} ({kind}) {where(e)}: {e.message}" for e in sorted(validator.iter_errors(obj), key=where)]
    return errors


def jsonl_errors(schema_path, text):
    schema = json.loads(pathlib.Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"line {number}: not JSON: {e}")
            continue
        errors += [f"line {number} {where(e)}: {e.message}" for e in sorted(validator.iter_errors(record), key=where)]
    return errors


def json_errors(schema_path, text):
    schema = json.loads(pathlib.Path(schema_path).read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{where(e)}: {e.message}" for e in sorted(validator.iter_errors(json.loads(text)), key=where)]


def main(argv):
    if len(argv) < 4 or argv[1] not in ("oci", "crd", "jsonl", "json"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, schema_dir, path = argv[1], argv[2], argv[3]
    text = pathlib.Path(path).read_text()
    if mode == "oci":
        document = json.loads(text)
        if "--fragment" in argv[4:]:
            document = merged(MINIMAL_CONFIG, document)
        errors = oci_errors(schema_dir, document)
    elif mode == "json":
        errors = json_errors(schema_dir, text)
    elif mode == "jsonl":
        errors = jsonl_errors(schema_dir, text)
    else:
        errors = crd_errors(schema_dir, text)
    for error in errors:
        print(f"{path}: {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
