module github.com/stoq-go/stoq/tools

go 1.26
