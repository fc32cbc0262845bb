"""Lambda package: intake, job events, reconcile and worker events for Ground Truth streaming labeling."""
