"""Downloads (Wikipedia, SQuAD, Google's checkpoints) and corpus preparation; run as `python -m bert.data.download`
and `python -m bert.data.prepare_corpus`, or through scripts/data_download.sh."""
