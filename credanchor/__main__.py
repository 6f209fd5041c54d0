from credanchor.entry import main

main()
