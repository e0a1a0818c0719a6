# GPU image: TensorFlow 2.21 with CUDA, plus this toolkit's requirements.
# Build with scripts/docker/build.sh, run with scripts/docker/launch.sh (mounts data/ and results/).
FROM tensorflow/tensorflow:2.21.0-gpu

WORKDIR /workspace/bert
COPY requirements.txt requirements-test.txt ./
# The base image already ships TensorFlow with CUDA; install everything else pinned in requirements.txt.
RUN grep -v '^tensorflow-cpu' requirements.txt > /tmp/requirements-gpu.txt \
    && pip install --no-cache-dir -r /tmp/requirements-gpu.txt
# Open MPI and mpi4py: multi-node launches with mpirun (see README, multi-node).
RUN apt-get update && apt-get install -y --no-install-recommends openmpi-bin libopenmpi-dev \
    && rm -rf /var/lib/apt/lists/* && pip install --no-cache-dir mpi4py==4.1.2
COPY . .
ENV TF_CPP_MIN_LOG_LEVEL=2
CMD ["bash"]
