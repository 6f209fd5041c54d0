from credanchor.cli import main

main()
