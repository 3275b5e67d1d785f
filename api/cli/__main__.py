"""`python -m api.cli`: the `qingfeng` command."""

from api.cli.main import main

main()
