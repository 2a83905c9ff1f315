from weefsel.cli import main

main()
