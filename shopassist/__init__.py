"""ShopAssist command-line tools (`shopassist ...`)."""
