#!/usr/bin/env python3
"""Checks helve's Terraform module (deploy/terraform) and the configurations that use it
without Terraform's AWS provider: `terraform validate` needs `terraform init`, which downloads
the provider, and CI reaches no registry but crates.io, PyPI, npm and Debian's.

What it checks, with python-hcl2 (PyPI) as the parser:
- every file parses as HCL2;
- in each directory, every `var.X` is declared, every declared variable is used, every
  `local.X` is defined, every `module.X` is a module block, and every reference to a resource
  or data source names one declared in that directory;
- the module's function: runtime provided.al2023, architectures ["arm64"], handler bootstrap,
  memory and timeout from variables, X-Ray tracing and VPC config optional, the Powertools
  variables helve reads in its environment, and its log group in `depends_on`; the log group
  `/aws/lambda/${var.function_name}` with a retention; an alarm on AWS/Lambda `Errors` and one
  on helve's `ColdStart` EMF metric (dimensions function_name and service) over Invocations;
  the outputs;
- each `module` block whose source is a relative path: the directory exists, every argument is
  a variable of the module, and every variable without a default is given;
- with --provider-schema WHEEL: every argument and nested block of each `resource`, `data` and
  `provider "aws"` block exists in the AWS provider's schema, at its place, and every required
  argument is given. The schema is read from the wheel of the PyPI package
  cdktf-cdktf-provider-aws (CDK for Terraform's bindings, generated from the provider's schema:
  one keyword argument per Terraform argument, required ones without a default), opened as a
  zip and never installed or imported. Types and values are not checked: that is `terraform
  validate`'s part.

Usage: deploy/check-terraform.py [--self-test] [--provider-schema WHEEL] [DIR ...]
(default: deploy/terraform and examples/*/terraform, from the repository root).
"""

import glob
import os
import re
import shutil
import sys
import tempfile
import zipfile

try:
    import hcl2
except ImportError:
    sys.exit("deploy/check-terraform.py needs python-hcl2: python3 -m pip install 'python-hcl2>=8,<9'")

MODULE = "deploy/terraform"

POWERTOOLS_VARIABLES = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "POWERTOOLS_LOGGER_SAMPLE_RATE",
    "POWERTOOLS_LOGGER_LOG_EVENT",
}

OUTPUTS = {
    "function_name",
    "function_arn",
    "invoke_arn",
    "role_arn",
    "log_group_name",
    "log_group_arn",
    "errors_alarm_arn",
    "cold_start_alarm_arn",
}

META_ARGUMENTS = {"source", "version", "providers", "count", "for_each", "depends_on"}


class Problems:
    def __init__(self):
        self.items = []

    def add(self, where, message):
        self.items.append(f"{where}: {message}")


def unquote(value):
    """python-hcl2 8 keeps the quotes of labels and string literals: `"\\"arm64\\""`."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def normalise(node):
    if isinstance(node, dict):
        return {
            unquote(key): normalise(value)
            for key, value in node.items()
            if key not in ("__comments__", "__is_block__", "__inline_comments__")
        }
    if isinstance(node, list):
        return [normalise(item) for item in node]
    return unquote(node)


def strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, str):
        yield node


def blocks(document, kind):
    """`resource`, `data`, `variable`, ... as a list of dicts, whatever python-hcl2 nests."""
    found = document.get(kind, [])
    return found if isinstance(found, list) else [found]


def labelled(document, kind):
    """{(type, name): body} for resource and data, {name: body} for variable, module, output."""
    result = {}
    for block in blocks(document, kind):
        for first, body in block.items():
            if kind in ("resource", "data"):
                for name, inner in body.items():
                    result[(first, name)] = inner
            else:
                result[first] = body
    return result


def load_directory(directory, problems):
    merged = {}
    files = sorted(glob.glob(os.path.join(directory, "*.tf")))
    if not files:
        problems.add(directory, "no .tf files")
    for path in files:
        try:
            with open(path, encoding="utf-8") as file:
                document = normalise(hcl2.load(file))
        except Exception as error:  # the parser raises lark's and its own errors
            problems.add(path, f"does not parse as HCL2: {error}")
            continue
        for kind, value in document.items():
            merged.setdefault(kind, []).extend(value if isinstance(value, list) else [value])
    return merged


def first(value):
    """A nested block (`metric { .. }`) comes as a list of one dict."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def check_references(directory, document, problems):
    variables = labelled(document, "variable")
    modules = labelled(document, "module")
    resources = labelled(document, "resource")
    datas = labelled(document, "data")
    local_names = set()
    for block in blocks(document, "locals"):
        local_names.update(block)

    text = list(strings({k: v for k, v in document.items() if k != "variable"}))
    # Variable validations may reference their own variable.
    for body in variables.values():
        text.extend(strings(body.get("validation", [])))

    used_variables, used_locals, used_modules = set(), set(), set()
    for value in text:
        used_variables.update(re.findall(r"\bvar\.([A-Za-z_][\w-]*)", value))
        used_locals.update(re.findall(r"\blocal\.([A-Za-z_][\w-]*)", value))
        used_modules.update(re.findall(r"\bmodule\.([A-Za-z_][\w-]*)", value))
        for kind, name in re.findall(r"\bdata\.([a-z][a-z0-9_]*)\.([A-Za-z_][\w-]*)", value):
            if (kind, name) not in datas:
                problems.add(directory, f"data.{kind}.{name} is referenced but not declared")
        for kind, name in re.findall(r"(?<![\w.])(aws_[a-z0-9_]+)\.([A-Za-z_][\w-]*)", value):
            if (kind, name) not in resources:
                problems.add(directory, f"{kind}.{name} is referenced but not declared")

    for name in sorted(used_variables - set(variables)):
        problems.add(directory, f"var.{name} is used but not declared")
    for name in sorted(set(variables) - used_variables):
        problems.add(directory, f"variable {name} is declared but never used")
    for name in sorted(used_locals - local_names):
        problems.add(directory, f"local.{name} is used but not defined")
    for name in sorted(used_modules - set(modules)):
        problems.add(directory, f"module.{name} is used but there is no such module block")
    return variables


def check_module(directory, document, problems):
    where = directory
    resources = labelled(document, "resource")

    versions = [
        provider
        for block in blocks(document, "terraform")
        for providers in block.get("required_providers", [])
        for provider in [providers.get("aws")]
        if provider
    ]
    if not versions or versions[0].get("source") != "hashicorp/aws":
        problems.add(where, "terraform.required_providers has no aws = { source = \"hashicorp/aws\" }")

    function = resources.get(("aws_lambda_function", "this"))
    if function is None:
        problems.add(where, "no resource aws_lambda_function.this")
        return
    expected = {
        "runtime": "provided.al2023",
        "architectures": ["arm64"],
        "handler": "bootstrap",
        "memory_size": "${var.memory_size}",
        "timeout": "${var.timeout}",
    }
    for key, value in expected.items():
        if function.get(key) != value:
            problems.add(where, f"aws_lambda_function.this: {key} is {function.get(key)!r}, not {value!r}")

    tracing = first(function.get("tracing_config"))
    if not isinstance(tracing, dict) or "Active" not in tracing.get("mode", "") or "var.tracing" not in tracing.get("mode", ""):
        problems.add(where, "aws_lambda_function.this: tracing_config.mode must be Active when var.tracing")

    dynamic = [entry for entry in function.get("dynamic", []) if "vpc_config" in entry]
    if not dynamic:
        problems.add(where, "aws_lambda_function.this: no optional (dynamic) vpc_config")

    if "aws_cloudwatch_log_group.this" not in function.get("depends_on", []) and "${aws_cloudwatch_log_group.this}" not in function.get("depends_on", []):
        problems.add(where, "aws_lambda_function.this: depends_on must list aws_cloudwatch_log_group.this")

    environment = first(function.get("environment"))
    locals_text = " ".join(strings(blocks(document, "locals")))
    if not isinstance(environment, dict) or "local.environment" not in str(environment.get("variables")):
        problems.add(where, "aws_lambda_function.this: environment.variables must be local.environment")
    for name in sorted(POWERTOOLS_VARIABLES):
        if name not in locals_text:
            problems.add(where, f"the function's environment does not set {name}")

    log_group = resources.get(("aws_cloudwatch_log_group", "this"))
    if log_group is None:
        problems.add(where, "no resource aws_cloudwatch_log_group.this")
    else:
        if log_group.get("name") != "/aws/lambda/${var.function_name}":
            problems.add(where, f"aws_cloudwatch_log_group.this: name is {log_group.get('name')!r}")
        if "retention_in_days" not in log_group:
            problems.add(where, "aws_cloudwatch_log_group.this: no retention_in_days")

    alarms = {name: body for (kind, name), body in resources.items() if kind == "aws_cloudwatch_metric_alarm"}
    errors = [
        body for body in alarms.values()
        if body.get("namespace") == "AWS/Lambda" and body.get("metric_name") == "Errors"
    ]
    if not errors:
        problems.add(where, "no aws_cloudwatch_metric_alarm on AWS/Lambda Errors")
    elif "aws_lambda_function.this" not in str(errors[0].get("dimensions")):
        problems.add(where, "the Errors alarm's FunctionName dimension is not the function's")

    cold = []
    for body in alarms.values():
        metrics = [first(query.get("metric")) for query in body.get("metric_query", [])]
        names = {metric.get("metric_name"): metric for metric in metrics if isinstance(metric, dict)}
        if "ColdStart" in names:
            cold.append((body, names))
    if not cold:
        problems.add(where, "no aws_cloudwatch_metric_alarm on helve's ColdStart metric")
    else:
        body, names = cold[0]
        dimensions = names["ColdStart"].get("dimensions", {})
        if set(dimensions) != {"function_name", "service"}:
            problems.add(where, f"the ColdStart metric's dimensions are {sorted(dimensions)}, not function_name and service (docs/metrics.md)")
        if "var.metrics_namespace" not in names["ColdStart"].get("namespace", ""):
            problems.add(where, "the ColdStart metric's namespace is not var.metrics_namespace")
        if "Invocations" not in names:
            problems.add(where, "the ColdStart alarm is not a rate: no Invocations metric in it")
        if not any(query.get("expression") and query.get("return_data") for query in body.get("metric_query", [])):
            problems.add(where, "the ColdStart alarm returns no expression")

    outputs = set(labelled(document, "output"))
    for name in sorted(OUTPUTS - outputs):
        problems.add(where, f"no output {name}")


def check_module_calls(directory, document, problems):
    for name, body in labelled(document, "module").items():
        source = body.get("source", "")
        if not source.startswith(("./", "../")):
            continue
        target = os.path.normpath(os.path.join(directory, source))
        if not os.path.isdir(target):
            problems.add(directory, f"module {name}: source {source} is not a directory")
            continue
        declared = labelled(load_directory(target, problems), "variable")
        for argument in sorted(set(body) - META_ARGUMENTS - set(declared)):
            problems.add(directory, f"module {name}: {argument} is not a variable of {source}")
        for variable, spec in sorted(declared.items()):
            if "default" not in spec and variable not in body:
                problems.add(directory, f"module {name}: the required variable {variable} is not given")
        filename = body.get("filename", "")
        if "${path.module}" not in filename and filename:
            problems.add(directory, f"module {name}: filename should start at ${{path.module}}")


# ----------------------------------------------------------------------------------------------
# The AWS provider's schema, from cdktf-cdktf-provider-aws's Python bindings
# ----------------------------------------------------------------------------------------------

META_PARAMETERS = {"connection", "count", "depends_on", "for_each", "lifecycle", "provider", "provisioners"}


def split_parameters(text):
    """`self, *, mode: builtins.str, x: typing.Optional[typing.Union[A, B]] = None` by its
    top-level commas."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [part for part in parts if part and part != "*"]


class ProviderSchema:
    """{class name: {argument: (required, nested class or None)}} per resource module."""

    def __init__(self, wheel):
        self.wheel = zipfile.ZipFile(wheel)
        self.modules = {}
        match = re.search(r"hashicorp/aws/([0-9.]+)", self._text("provider"))
        self.version = match.group(1) if match else "?"

    def _text(self, folder):
        return self.wheel.read(f"cdktf_cdktf_provider_aws/{folder}/__init__.py").decode("utf-8")

    def module(self, folder):
        if folder not in self.modules:
            try:
                text = self._text(folder)
            except KeyError:
                self.modules[folder] = None
                return None
            bodies = {
                match.group(1): match.group(2)
                for match in re.finditer(r"^class (\w+)\b[^\n]*\n(.*?)(?=^class |\Z)", text, re.M | re.S)
            }
            classes = {}
            for name, body in bodies.items():
                init = re.search(r"    def __init__\((.*?)\) -> None:", body, re.S)
                if not init:
                    continue
                parameters = {}
                for parameter in split_parameters(init.group(1)):
                    found = re.match(r"^(\w+): (.+?)(\s*=\s*None)?$", parameter, re.S)
                    if not found or found.group(1) in ("self", "scope", "id_"):
                        continue
                    annotation = found.group(2)
                    nested = next(
                        (
                            word
                            for word in re.findall(r"\b([A-Z]\w+)\b", annotation)
                            if word in bodies and word != name and not word.endswith(("OutputReference", "List"))
                        ),
                        None,
                    )
                    parameters[found.group(1)] = (found.group(3) is None, nested)
                classes[name] = parameters
            root = next(
                (
                    match.group(1)
                    for match in re.finditer(r"^class (\w+Config)\(_cdktf_\w+\.TerraformMetaArguments\)", text, re.M)
                ),
                "AwsProviderConfig" if folder == "provider" else None,
            )
            self.modules[folder] = (classes, root)
        return self.modules[folder]


def check_against_schema(directory, document, schema, problems):
    def walk(where, body, classes, class_name):
        parameters = classes.get(class_name, {})
        given = set()
        for key, value in body.items():
            if key in META_PARAMETERS:
                continue
            if key == "dynamic":
                for entry in value:
                    for block, spec in entry.items():
                        if block not in parameters or parameters[block][1] is None:
                            problems.add(directory, f"{where}: no nested block {block} in the provider's schema")
                            continue
                        given.add(block)
                        for content in spec.get("content", []):
                            walk(f"{where}.{block}", content, classes, parameters[block][1])
                continue
            if key not in parameters:
                problems.add(directory, f"{where}: {key} is not an argument of the provider's schema (hashicorp/aws {schema.version})")
                continue
            given.add(key)
            nested = parameters[key][1]
            if nested is not None:
                for block in value if isinstance(value, list) else [value]:
                    if isinstance(block, dict):
                        walk(f"{where}.{key}", block, classes, nested)
        for name, (required, _) in sorted(parameters.items()):
            if required and name not in given and name not in META_PARAMETERS:
                problems.add(directory, f"{where}: the required argument {name} is missing")

    checked = 0
    for kind in ("resource", "data"):
        for (kind_name, name), body in labelled(document, kind).items():
            if not kind_name.startswith("aws_"):
                continue
            folder = ("data_aws_" if kind == "data" else "") + kind_name[len("aws_"):]
            found = schema.module(folder)
            prefix = "data." if kind == "data" else ""
            if found is None or found[1] is None:
                problems.add(directory, f"{prefix}{kind_name}.{name}: no such {kind} in hashicorp/aws {schema.version}")
                continue
            walk(f"{prefix}{kind_name}.{name}", body, *found)
            checked += 1
    for block in blocks(document, "provider"):
        if "aws" in block:
            walk("provider.aws", block["aws"], *schema.module("provider"))
            checked += 1
    return checked


def check(directories, schema=None):
    problems = Problems()
    for directory in directories:
        document = load_directory(directory, problems)
        check_references(directory, document, problems)
        if os.path.normpath(directory).endswith(os.path.normpath(MODULE)):
            check_module(directory, document, problems)
        check_module_calls(directory, document, problems)
        if schema is not None:
            count = check_against_schema(directory, document, schema, problems)
            print(f"{directory}: {count} blocks checked against the schema of hashicorp/aws {schema.version}")
    return problems.items


def self_test(root, schema=None):
    """Each broken copy of the module must be refused, and the module itself accepted."""
    failures = 0
    found = check([os.path.join(root, MODULE)], schema)
    if found:
        print(f"self-test: the module itself has problems: {found}")
        failures += 1
    cases = [
        ('runtime       = "provided.al2023"', 'runtime       = "provided.al2"', "runtime"),
        ('architectures = ["arm64"]', 'architectures = ["x86_64"]', "architectures"),
        ("    aws_cloudwatch_log_group.this,\n", "", "depends_on"),
        ('metric_name = "ColdStart"', 'metric_name = "ColdStarts"', "ColdStart"),
        ("var.log_retention_in_days", "var.log_retention", "var.log_retention is used"),
        ("POWERTOOLS_LOG_LEVEL          =", "LOG_LEVEL =", "POWERTOOLS_LOG_LEVEL"),
    ]
    if schema is not None:
        cases += [
            ("    log_format            = var.log_format\n", "    log_formats = var.log_format\n", "log_formats is not an argument"),
            ('  treat_missing_data  = "notBreaching"', '  treat_missing  = "notBreaching"', "treat_missing is not an argument"),
            ("  role          = local.role_arn\n", "", "required argument role"),
            ('dynamic "vpc_config"', 'dynamic "vpc_configs"', "no nested block vpc_configs"),
            ("      subnet_ids         = var.vpc_subnet_ids", "      subnets = var.vpc_subnet_ids", "vpc_config: subnets"),
        ]
    for old, new, expect in cases:
        with tempfile.TemporaryDirectory() as scratch:
            copy = os.path.join(scratch, MODULE)
            shutil.copytree(os.path.join(root, MODULE), copy)
            path = os.path.join(copy, "main.tf")
            with open(path, encoding="utf-8") as file:
                text = file.read()
            if old not in text:
                print(f"self-test: main.tf no longer contains {old!r}: update the self-test")
                failures += 1
                continue
            with open(path, "w", encoding="utf-8") as file:
                file.write(text.replace(old, new, 1))
            found = check([copy], schema)
            if not any(expect in problem for problem in found):
                print(f"self-test: replacing {old!r} was not caught (expected a problem about {expect!r}; got {found})")
                failures += 1
    return failures


def main(argv):
    start = os.getcwd()
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    os.chdir(root)
    schema = None
    if "--provider-schema" in argv:
        at = argv.index("--provider-schema")
        schema = ProviderSchema(os.path.abspath(os.path.join(start, argv[at + 1])))
        argv = argv[:at] + argv[at + 2:]
    if argv[:1] == ["--self-test"]:
        failures = self_test(root, schema)
        print(f"check-terraform self-test: {failures} failed")
        return 1 if failures else 0
    directories = argv or [MODULE] + sorted(glob.glob("examples/*/terraform"))
    found = check(directories, schema)
    for problem in found:
        print(problem)
    print(f"checked {', '.join(directories)}: {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
