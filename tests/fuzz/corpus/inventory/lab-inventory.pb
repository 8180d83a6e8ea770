
Š
44:47:cc:00:00:13.Hangzhou Hikvision Digital Technology Co.,Ltd."198.18.10.13*cameras0 ­¾Ø8 ­¾Øjcamerar
classifiedzclassify[0]ˆ