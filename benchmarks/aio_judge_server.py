"""An asyncio (aiohttp) OpenAI-compatible judge server with a fixed reply latency, for the
throughput benchmark: unlike the threaded test server it adds little latency of its own.

usage: python aio_judge_server.py TAXONOMY --delay 0.02   (prints its URL; stops at EOF on stdin)
"""

import argparse
import asyncio
import json
import sys

from aiohttp import web

from rewardkit import TaxonomyJudge


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("taxonomy")
    parser.add_argument("--delay", type=float, default=0.02)
    args = parser.parse_args()
    judge = TaxonomyJudge(args.taxonomy)

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(args.delay)
        data = json.loads(body["messages"][-1]["content"])  # the default prompt's JSON input
        truth, prediction = data["ground_truth"], data["prediction"]
        return web.json_response(
            {
                "choices": [
                    {"message": {"role": "assistant", "content": judge.verdict(truth, prediction)}}
                ],
                "usage": {"prompt_tokens": 50, "completion_tokens": 2},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}/v1", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
