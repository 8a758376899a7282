"""Run a real llama.cpp OpenAI-compatible server (xllamacpp's) for the remote-model tests.

    python tests/llama_server.py MODEL.gguf API_KEY

Prints the address it listens on, then serves until its stdin closes.
"""

import sys

import xllamacpp


def main() -> None:
    model, api_key = sys.argv[1], sys.argv[2]
    params = xllamacpp.CommonParams()
    params.model.path = model
    params.n_ctx = 2048
    params.n_parallel = 1
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    params.verbosity = -1
    params.api_keys = [api_key]
    server = xllamacpp.Server(params)
    print(server.listening_address, flush=True)
    sys.stdin.read()
    del server


if __name__ == "__main__":
    main()
