"""`python -m bot` is the `aduan` command."""
from bot.cli import main

main(prog_name="aduan")
