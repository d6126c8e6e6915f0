from rses.cli import main

main()
