"""gtcontract: the contract between the parts of gt-streaming-labeling, written once.

Dependency-free: only the standard library and, where a document is validated, ``jsonschema``
(imported lazily, so a Lambda handler that only reads names and settings starts fast). The
Lambdas (``gtstream``), the CLI (``gtctl``), the local cloud (``gtlocal``), the instructions
publisher and the tests import it; it imports none of them.

Modules (docs/interfaces.md names the section each implements):

- ``gtcontract.names``: project prefix, ``P-NNNN`` job names and ARNs, resource names (section 1);
- ``gtcontract.states``: object states, job statuses, decisions, notification and event names
  (section 4);
- ``gtcontract.deployment``: the deployment document, its parser and loaders (section 2);
- ``gtcontract.settings``: the Lambda environment, parsed once into ``Settings`` (section 3);
- ``gtcontract.project_config``: the project config, its JSON Schema
  (``project_config.schema.json``) and semantic checks, and the parsed ``ProjectConfig``
  (section 5).
"""
