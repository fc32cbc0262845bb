"""The local cloud: moto in server mode with a Ground Truth labeling-job emulator in front of it."""
