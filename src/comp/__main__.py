from comp.cli import main

main()
