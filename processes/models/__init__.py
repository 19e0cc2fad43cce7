"""Trained models as catalogued artefacts: ONNX files run by onnxruntime, described by STAC items
with the MLM extension, stored durably on disk; training from labelled features as a job."""
