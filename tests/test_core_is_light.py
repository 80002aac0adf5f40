import subprocess
import sys

HEAVY = ["torch", "transformers", "trl", "litellm", "vllm", "openai", "httpx", "aiohttp", "asyncio"]


def test_import_rewardkit_loads_nothing_heavy():
    code = (
        "import sys, rewardkit, rewardkit.cli, rewardkit.plugins\n"
        "rewardkit.get_rule('speciarl'); rewardkit.get_ladder('speciarl')\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
