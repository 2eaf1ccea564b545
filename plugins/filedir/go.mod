module github.com/stoq-go/stoq/plugins/filedir

go 1.26
