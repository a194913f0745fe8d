"""ShopAssist components package."""
