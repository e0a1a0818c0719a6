"""Getting text and checkpoints onto disk, ready for `create_pretraining_data.py`.

The data flows one way through these folders (all git-ignored except `sample/`):

    download/   raw files as published: SQuAD JSON, Google's BERT zips, the Wikipedia dump
    formatted/  wikiextractor's <doc> files, kept so a second run can skip extraction
    prepared/   text shards: one sentence per line, a blank line between documents
    tfrecord/   pretraining instances written by create_pretraining_data.py
    sample/     a small corpus and SQuAD files written for this project, for demos and tests

`download.py` fetches and verifies; `prepare_corpus.py` turns a dump or a folder of
books into balanced shards; `scripts/data_download.sh` runs both, then the TFRecord step.
"""
