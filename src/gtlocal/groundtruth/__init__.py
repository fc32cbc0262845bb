"""The Ground Truth labeling-job emulator, laid out as moto lays out a service.

Imports go one way, down this list:

- ``responses``  - the SageMaker API: operation dispatch, request parsing, AWS error shapes
- ``validation`` - request checks from botocore's SageMaker service model, then the rules it cannot express
- ``models``     - the backend: jobs, data objects and the rules time applies to them (no HTTP)
- ``workforce``  - task types and the simulated workers' answers per type
- ``aws``        - every AWS call the emulator makes (``clients_for(job)``: as the job's role)
- ``clock``      - the emulated clock and the ticker
- ``settings``   - the documented settings (``/_groundtruth/settings``)
"""
